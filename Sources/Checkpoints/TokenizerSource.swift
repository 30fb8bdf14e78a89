import Foundation

/// Where a checkpoint's tokenizer lives. The Tokenization target turns either into a tokenizer.
public enum TokenizerSource: Sendable {
    /// The vocabulary embedded in GGUF metadata (`tokenizer.ggml.*`).
    case gguf(GGUFVocabulary)
    /// An HF `tokenizer.json`, plus `tokenizer_config.json` when the directory has one. The URL is where the
    /// file should be; an HF directory without it still opens (weights-only test models), so check existence.
    case tokenizerJSON(URL, config: URL?)
}

/// The tokenizer stored in GGUF metadata (llama.cpp `llama-vocab.cpp` reads the same keys).
public struct GGUFVocabulary: Sendable, Equatable {
    /// `tokenizer.ggml.model`: "gpt2" (byte-level BPE), "llama" (SentencePiece), …; "none" when absent.
    public var model: String
    /// `tokenizer.ggml.pre`: the pre-tokenizer name ("smollm", "llama-bpe", "default", …).
    public var preTokenizer: String?
    /// `tokenizer.ggml.tokens`, indexed by token id.
    public var tokens: [String]
    /// `tokenizer.ggml.token_type` per token (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte);
    /// all 1 when the file has no types.
    public var tokenTypes: [Int32]
    /// `tokenizer.ggml.merges`: "left right" pairs in rank order (BPE models only).
    public var merges: [String]
    public var bosTokenId: Int32?
    public var eosTokenId: Int32?
    /// `tokenizer.ggml.eot_token_id` (end of turn), when distinct from eos.
    public var eotTokenId: Int32?
    /// `tokenizer.ggml.add_bos_token`; when absent, llama.cpp's default: true for SentencePiece
    /// ("llama") vocabularies and for the Llama 3 family's BPE pre-tokenizers (llama-bpe, llama3, …).
    public var addBOS: Bool

    public init(model: String, preTokenizer: String? = nil, tokens: [String], tokenTypes: [Int32], merges: [String],
                bosTokenId: Int32? = nil, eosTokenId: Int32? = nil, eotTokenId: Int32? = nil, addBOS: Bool = false) {
        self.model = model
        self.preTokenizer = preTokenizer
        self.tokens = tokens
        self.tokenTypes = tokenTypes
        self.merges = merges
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.eotTokenId = eotTokenId
        self.addBOS = addBOS
    }
}
