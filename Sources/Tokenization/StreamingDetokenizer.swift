/// Decodes generated tokens one at a time without ever emitting half a character.
///
/// Byte-level tokens often end in the middle of a UTF-8 sequence (`😀` is `ðŁ` + `ĺ` + `Ģ` in SmolLM2).
/// Decoding each token alone would print U+FFFD for every piece. Instead, bytes are held back while
/// they are a proper prefix of a valid UTF-8 sequence; once the sequence completes, the character is
/// emitted. A sequence that can no longer become valid is emitted as U+FFFD right away, since no later
/// byte can rescue it.
///
/// The concatenation of everything `append` and `finish` return equals `tokenizer.decode(ids)`: both
/// replace each maximal invalid subsequence with one U+FFFD (Unicode §3.9, "U+FFFD substitution of
/// maximal subparts"), and every split point used here is a boundary of that substitution.
public struct StreamingDetokenizer: Sendable {
    private let tokenizer: Tokenizer
    private let skipSpecial: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: Tokenizer, skipSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecial = skipSpecial
    }

    /// Adds one token; returns the text that became complete (possibly empty).
    public mutating func append(_ id: Int32) -> String {
        tokenizer.appendBytes(of: id, skipSpecial: skipSpecial, to: &pending)
        let complete = UTF8Completion.completePrefixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Flushes what is held back: an unfinished sequence becomes U+FFFD.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }
}

/// Where a byte buffer can be cut without splitting a character that might still complete.
enum UTF8Completion {
    /// The length of the longest prefix of `bytes` that can be decoded now. What remains is at most
    /// three bytes forming a proper prefix of a well-formed sequence (Unicode Table 3-7), which the next
    /// bytes may complete.
    ///
    /// Why the cut is safe: the remainder starts at a lead byte (C2–F4). In maximal-subpart decoding a
    /// lead byte always starts a new unit, since it is never a valid continuation byte, so decoding the
    /// prefix and the rest separately gives exactly the characters and U+FFFDs of decoding them together.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let count = bytes.count
        // The last non-continuation byte within the last 4 bytes is the only possible unfinished start.
        var start = count - 1
        while start >= 0, start >= count - 4, bytes[start] & 0xC0 == 0x80 { start -= 1 }
        guard start >= 0, start >= count - 4 else { return count }
        return isProperPrefixOfSequence(bytes[start...]) ? start : count
    }

    /// Whether `tail` (starting at a non-continuation byte) is shorter than the sequence its lead byte
    /// announces, and every byte so far is allowed in that position.
    private static func isProperPrefixOfSequence(_ tail: ArraySlice<UInt8>) -> Bool {
        let lead = tail[tail.startIndex]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F  // no surrogates
        case 0xF0: length = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F  // nothing above U+10FFFF
        default: return false  // ASCII, or a byte that never starts a sequence (C0, C1, F5–FF)
        }
        guard tail.count < length else { return false }
        for (offset, byte) in tail.dropFirst().enumerated() {
            let allowed = offset == 0 ? secondRange : 0x80...0xBF
            if !allowed.contains(byte) { return false }
        }
        return true
    }
}
