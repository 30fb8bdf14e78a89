/// Building a tokenizer from GGUF `tokenizer.ggml.*` metadata. The GGUF reader lives in `Checkpoints`;
/// this target takes plain arrays so it does not depend on it.
extension Tokenizer {
    /// GGUF `tokenizer.ggml.token_type` values (llama.cpp `llama_token_type`).
    public enum GGUFTokenType: Int32, Sendable {
        case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// Builds a byte-level BPE tokenizer from GGUF metadata arrays.
    ///
    /// - Parameters:
    ///   - tokens: `tokenizer.ggml.tokens`, in byte-level spelling (`Ġthe`), indexed by id.
    ///   - tokenTypes: `tokenizer.ggml.token_type`, same length; empty means every token is normal.
    ///     `control` (3) and `userDefined` (4) tokens are special: matched in raw text before BPE.
    ///   - merges: `tokenizer.ggml.merges`, `"left right"` in rank order.
    ///   - preTokenizer: from `tokenizer.ggml.pre` via `PreTokenizer(ggufName:)`.
    ///   - bosTokenId, eosTokenId, eotTokenId: `tokenizer.ggml.bos_token_id` etc.
    ///   - addBOS: `tokenizer.ggml.add_bos_token`.
    ///   - chatTemplate: `tokenizer.chat_template`, kept for `ChatFormat.detect(fromTemplate:)`.
    /// - Throws: `TokenizationError` for mismatched lengths, malformed merges, ids outside the vocabulary.
    ///   Check `tokenizer.ggml.model` with `Tokenizer.validateGGUFModel(_:)` first.
    public convenience init(tokens: [String], tokenTypes: [Int32], merges: [String], preTokenizer: PreTokenizer,
                            bosTokenId: Int32?, eosTokenId: Int32?, eotTokenId: Int32? = nil, addBOS: Bool = false,
                            chatTemplate: String? = nil) throws {
        let source = "GGUF tokenizer metadata"
        guard tokenTypes.isEmpty || tokenTypes.count == tokens.count else {
            throw TokenizationError.tokenTypeCountMismatch(tokens: tokens.count, tokenTypes: tokenTypes.count)
        }
        var added: [Int32: Bool] = [:]
        for (id, type) in tokenTypes.enumerated()
        where type == GGUFTokenType.control.rawValue || type == GGUFTokenType.userDefined.rawValue {
            added[Int32(id)] = true
        }
        var pairs: [(String, String)] = []
        pairs.reserveCapacity(merges.count)
        for (index, merge) in merges.enumerated() {
            // llama.cpp splits at the first space after the first character (`word.find(' ', 1)`).
            guard let space = merge.utf8.dropFirst().firstIndex(of: UInt8(ascii: " ")) else {
                throw TokenizationError.invalidMerge(source: source, index: index, merge: merge,
                                                     reason: "expected two tokens separated by a space")
            }
            // Slice the UTF-8 view: a `String` subscript would round to grapheme boundaries.
            let left = String(decoding: merge.utf8[..<space], as: UTF8.self)
            let right = String(decoding: merge.utf8[merge.utf8.index(after: space)...], as: UTF8.self)
            guard !right.isEmpty else {
                throw TokenizationError.invalidMerge(source: source, index: index, merge: merge,
                                                     reason: "the right-hand token is empty")
            }
            pairs.append((left, right))
        }
        try self.init(parts: Parts(
            tokens: tokens, addedTokens: added, merges: pairs, preTokenizer: preTokenizer,
            ignoreMerges: preTokenizer.ignoresMerges, bosTokenId: bosTokenId, eosTokenId: eosTokenId,
            eotTokenId: eotTokenId, addBOS: addBOS, chatTemplate: chatTemplate, source: source))
    }

    /// Checks GGUF `tokenizer.ggml.model`: only `gpt2` (byte-level BPE) is implemented. `llama` is
    /// SentencePiece (Llama 1/2, Mistral), `bert` WordPiece, `t5` Unigram.
    /// - Throws: `TokenizationError.unsupportedGGUFTokenizerModel`.
    public static func validateGGUFModel(_ model: String) throws {
        guard model == "gpt2" else { throw TokenizationError.unsupportedGGUFTokenizerModel(name: model) }
    }
}
