/// GPT-2's byte ↔ character mapping (`bytes_to_unicode` in openai/gpt-2 `encoder.py`, the `ByteLevel`
/// stage of HF tokenizers).
///
/// Byte-level vocabularies store every token as text in which each byte is one printable character:
/// the printable Latin-1 bytes `!`…`~`, `¡`…`¬`, `®`…`ÿ` stand for themselves, and the other 68 bytes
/// (controls, space, DEL, NBSP, soft hyphen) are shifted to U+0100…U+0143 in byte order. So a space is
/// `Ġ` (U+0120) and a newline `Ċ` (U+010A). The tokenizer works on bytes; this table is only needed to
/// read vocabularies and merges.
enum ByteLevel {
    /// The character standing for each byte.
    static let characters: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var shifted: UInt32 = 256
        for byte in 0..<256 {
            if isPrintable(UInt8(byte)) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(shifted)!  // 256…323: always a valid scalar
                shifted += 1
            }
        }
        return table
    }()

    /// The inverse of `characters`, indexed by scalar value (all are below 324).
    private static let bytesByScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for (byte, scalar) in characters.enumerated() { table[Int(scalar.value)] = Int16(byte) }
        return table
    }()

    private static func isPrintable(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    /// The bytes a byte-level token string stands for, or nil when it contains a character outside the
    /// 256-character alphabet (then it is not a byte-level token; HF's decoder falls back to its UTF-8).
    static func bytes(of token: String) -> [UInt8]? {
        var result: [UInt8] = []
        result.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            let value = Int(scalar.value)
            guard value < bytesByScalar.count, bytesByScalar[value] >= 0 else { return nil }
            result.append(UInt8(bytesByScalar[value]))
        }
        return result
    }

    /// The byte-level spelling of raw bytes (what a vocabulary entry for these bytes looks like).
    static func string(of bytes: some Sequence<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        for byte in bytes { scalars.append(characters[Int(byte)]) }
        return String(scalars)
    }
}
