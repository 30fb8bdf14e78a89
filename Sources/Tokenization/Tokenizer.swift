/// A byte-level BPE tokenizer (GPT-2 family: SmolLM2, Llama 3, GPT-2, …), built from GGUF metadata
/// (`Tokenizer+GGUF.swift`) or an HF tokenizer.json (`Tokenizer+HFJSON.swift`).
///
/// Encoding runs the stages in HF's order: added tokens are cut out of the raw text first
/// (`AddedTokenMatcher`), each stretch between them is split into words (`PreTokenizer`), and each word's
/// UTF-8 bytes go through BPE (`BPEModel`). Decoding concatenates token bytes and repairs invalid UTF-8
/// at the very end, so a character split across tokens comes out whole.
///
/// Immutable after init and safe to share across threads; the only mutable state is the word cache,
/// which has its own lock.
public final class Tokenizer: Sendable {
    /// Everything the stages need, produced by the GGUF and tokenizer.json front ends.
    struct Parts {
        /// Token texts by id: byte-level spelling for ordinary tokens, plain text for added tokens.
        /// Ids missing from a tokenizer.json are empty strings.
        var tokens: [String]
        /// Added tokens (matched in raw text before BPE), with whether each one is special.
        var addedTokens: [Int32: Bool]
        var merges: [(String, String)]
        var preTokenizer: PreTokenizer
        var ignoreMerges: Bool
        var bosTokenId: Int32?
        var eosTokenId: Int32?
        var eotTokenId: Int32?
        var addBOS: Bool
        var chatTemplate: String?
        /// Names the origin (a file path or "GGUF metadata") in errors.
        var source: String
    }

    public let vocabularySize: Int
    public let bosTokenId: Int32?
    public let eosTokenId: Int32?
    public let eotTokenId: Int32?
    /// Whether the model expects BOS in front of every prompt (GGUF `tokenizer.ggml.add_bos_token`, HF
    /// `add_bos_token` or a post-processor that inserts it). `encode` never adds it; callers do.
    public let addBOS: Bool
    /// Ids that end generation: `eos`, `eot`, and `<|im_end|>`, `<|eot_id|>`, `<|end_of_text|>` when the
    /// vocabulary has them as special tokens (chat models end turns with them even when `eos` differs).
    public let stopTokenIds: Set<Int32>
    /// The Jinja chat template, when the source had one (tokenizer_config.json `chat_template`).
    public let chatTemplate: String?
    public let preTokenizer: PreTokenizer

    private let bpe: BPEModel
    private let cache = WordCache()
    /// All added tokens, for `allowSpecial: true`.
    private let addedMatcher: AddedTokenMatcher
    /// Only the non-special added tokens, for `allowSpecial: false` (HF matches those either way).
    private let nonSpecialMatcher: AddedTokenMatcher
    private let special: [Bool]
    private let addedIds: [String: Int32]
    /// The bytes of every token, concatenated; token `i` is `tokenByteStorage[tokenByteOffsets[i]..<tokenByteOffsets[i + 1]]`.
    private let tokenByteStorage: [UInt8]
    private let tokenByteOffsets: [Int]

    init(parts: Parts) throws {
        let count = parts.tokens.count
        guard count > 0 else { throw TokenizationError.emptyVocabulary(source: parts.source) }
        for (name, id) in [("bos", parts.bosTokenId), ("eos", parts.eosTokenId), ("eot", parts.eotTokenId)] {
            if let id, id < 0 || Int(id) >= count {
                throw TokenizationError.tokenIdOutOfRange(source: parts.source, name: "\(name) token",
                                                          id: Int64(id), vocabularySize: count)
            }
        }
        for id in parts.addedTokens.keys where id < 0 || Int(id) >= count {
            throw TokenizationError.tokenIdOutOfRange(source: parts.source, name: "added token",
                                                      id: Int64(id), vocabularySize: count)
        }

        bpe = try BPEModel(tokens: parts.tokens, merges: parts.merges, addedIds: Set(parts.addedTokens.keys),
                           ignoreMerges: parts.ignoreMerges, source: parts.source)
        preTokenizer = parts.preTokenizer

        var storage: [UInt8] = []
        var offsets: [Int] = [0]
        offsets.reserveCapacity(count + 1)
        var special = [Bool](repeating: false, count: count)
        for (index, token) in parts.tokens.enumerated() {
            if let isSpecial = parts.addedTokens[Int32(index)] {
                special[index] = isSpecial
                storage.append(contentsOf: token.utf8)
            } else {
                // HF's ByteLevel decoder: a token outside the byte alphabet decodes to its own UTF-8.
                storage.append(contentsOf: ByteLevel.bytes(of: token) ?? Array(token.utf8))
            }
            offsets.append(storage.count)
        }
        tokenByteStorage = storage
        tokenByteOffsets = offsets
        self.special = special

        let added = parts.addedTokens.keys.sorted().map { (text: parts.tokens[Int($0)], id: $0) }
        addedMatcher = AddedTokenMatcher(added)
        nonSpecialMatcher = AddedTokenMatcher(added.filter { parts.addedTokens[$0.id] == false })
        var addedIds: [String: Int32] = [:]
        for (text, id) in added where addedIds[text] == nil { addedIds[text] = id }
        self.addedIds = addedIds

        vocabularySize = count
        bosTokenId = parts.bosTokenId
        eosTokenId = parts.eosTokenId
        eotTokenId = parts.eotTokenId
        addBOS = parts.addBOS
        chatTemplate = parts.chatTemplate
        var stops = Set([parts.eosTokenId, parts.eotTokenId].compactMap { $0 })
        for text in ["<|im_end|>", "<|eot_id|>", "<|end_of_text|>"] {
            if let id = addedIds[text], special[Int(id)] { stops.insert(id) }
        }
        stopTokenIds = stops
    }

    // MARK: Encoding

    /// The token ids of `text`. Never adds BOS (see `addBOS`).
    /// - Parameter allowSpecial: when false, special tokens written in the text (`<|im_start|>`) are
    ///   tokenized as ordinary text, so user input cannot forge control tokens.
    public func encode(_ text: String, allowSpecial: Bool = true) -> [Int32] {
        let utf8 = Array(text.utf8)
        let scalars = ScalarText(text)
        var output: [Int32] = []
        output.reserveCapacity(utf8.count / 3 + 1)
        var words: [Range<Int>] = []

        func encodeStretch(_ range: Range<Int>) {
            guard !range.isEmpty else { return }
            words.removeAll(keepingCapacity: true)
            preTokenizer.split(scalars, in: range, into: &words)
            for word in words {
                let bytes = utf8[scalars.utf8Offsets[word.lowerBound]..<scalars.utf8Offsets[word.upperBound]]
                if bytes.count == 1 {
                    let id = bpe.byteTokens[Int(bytes[bytes.startIndex])]
                    if id >= 0 { output.append(id) }
                } else {
                    output.append(contentsOf: cache.tokens(for: bytes, compute: bpe.encode(word:)))
                }
            }
        }

        let matcher = allowSpecial ? addedMatcher : nonSpecialMatcher
        var stretchStart = 0
        var index = 0
        if !matcher.isEmpty {
            while index < scalars.count {
                guard let match = matcher.longestMatch(in: utf8, at: scalars.utf8Offsets[index]) else {
                    index += 1
                    continue
                }
                encodeStretch(stretchStart..<index)
                output.append(match.id)
                // Tokens are whole UTF-8 text, so the match ends on a scalar boundary.
                let end = scalars.utf8Offsets[index] + match.length
                while scalars.utf8Offsets[index] < end { index += 1 }
                stretchStart = index
            }
        }
        encodeStretch(stretchStart..<scalars.count)
        return output
    }

    // MARK: Decoding

    /// The text of `ids`. Invalid UTF-8 (e.g. a character cut off at the end) becomes U+FFFD, one per
    /// maximal invalid subsequence, as HF's `String::from_utf8_lossy`. Unknown ids are skipped.
    public func decode(_ ids: [Int32], skipSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        for id in ids { appendBytes(of: id, skipSpecial: skipSpecial, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The raw bytes of one token; for an added token, its UTF-8 text. Empty for an unknown id.
    public func tokenBytes(_ id: Int32) -> [UInt8] {
        var bytes: [UInt8] = []
        appendBytes(of: id, skipSpecial: false, to: &bytes)
        return bytes
    }

    func appendBytes(of id: Int32, skipSpecial: Bool, to bytes: inout [UInt8]) {
        guard id >= 0, Int(id) < vocabularySize, !(skipSpecial && special[Int(id)]) else { return }
        bytes.append(contentsOf: tokenByteStorage[tokenByteOffsets[Int(id)]..<tokenByteOffsets[Int(id) + 1]])
    }

    /// The id of an added token by its text (`"<|im_end|>"`), or nil.
    public func tokenId(forSpecial text: String) -> Int32? { addedIds[text] }

    /// Whether `id` is a special (control) token: skipped by `decode(skipSpecial: true)` and written as
    /// text by `encode(allowSpecial: false)`.
    public func isSpecial(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < vocabularySize && special[Int(id)]
    }
}
