import Foundation

/// Typed metadata access: absent keys give nil (or `missingKey` for the `required…` forms); present keys of the
/// wrong type throw `invalidKey` rather than being silently ignored.
extension GGUFFile {
    private func invalid(_ key: String, _ expected: String, _ value: GGUFValue) -> CheckpointError {
        .invalidKey(file: url.path, key: key, expected: expected, found: value.summary)
    }

    func int(_ key: String) throws -> Int? {
        guard let v = metadata[key] else { return nil }
        guard let i = v.intValue else { throw invalid(key, "an integer", v) }
        return i
    }

    func requiredInt(_ key: String) throws -> Int {
        guard let i = try int(key) else { throw CheckpointError.missingKey(file: url.path, key: key) }
        return i
    }

    /// A required integer that must be ≥ 1 (counts and sizes).
    func requiredPositiveInt(_ key: String) throws -> Int {
        let i = try requiredInt(key)
        guard i > 0 else { throw invalid(key, "a positive integer", metadata[key]!) }
        return i
    }

    func double(_ key: String) throws -> Double? {
        guard let v = metadata[key] else { return nil }
        guard let d = v.doubleValue else { throw invalid(key, "a number", v) }
        return d
    }

    func string(_ key: String) throws -> String? {
        guard let v = metadata[key] else { return nil }
        guard let s = v.stringValue else { throw invalid(key, "a string", v) }
        return s
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = metadata[key] else { return nil }
        guard let b = v.boolValue else { throw invalid(key, "a bool", v) }
        return b
    }

    func stringArray(_ key: String) throws -> [String]? {
        guard let v = metadata[key] else { return nil }
        guard let a = v.stringArray else { throw invalid(key, "an array of strings", v) }
        return a
    }

    func intArray(_ key: String) throws -> [Int]? {
        guard let v = metadata[key] else { return nil }
        guard let a = v.intArray else { throw invalid(key, "an array of integers", v) }
        return a
    }

    /// A token id: an integer in Int32 range.
    func tokenId(_ key: String) throws -> Int32? {
        guard let i = try int(key) else { return nil }
        guard let id = Int32(exactly: i), id >= 0 else { throw invalid(key, "a token id", metadata[key]!) }
        return id
    }
}

extension ModelConfig {
    /// Reads a Llama config from GGUF metadata (keys as written by llama.cpp's `convert_hf_to_gguf.py`).
    /// Only `general.architecture == "llama"` is accepted: other families need other forward passes.
    init(gguf file: GGUFFile) throws {
        let path = file.url.path
        guard let arch = try file.string("general.architecture") else {
            throw CheckpointError.missingKey(file: path, key: "general.architecture")
        }
        guard arch == "llama" else { throw CheckpointError.unsupportedArchitecture(file: path, found: arch) }
        let p = "llama."
        let hidden = try file.requiredPositiveInt(p + "embedding_length")
        let heads = try file.requiredPositiveInt(p + "attention.head_count")
        let kvHeads = try file.int(p + "attention.head_count_kv") ?? heads
        let headDim = try file.int(p + "attention.key_length") ?? file.int(p + "rope.dimension_count") ?? hidden / heads
        let tokenCount = (try file.stringArray("tokenizer.ggml.tokens"))?.count
        guard let vocab = try file.int(p + "vocab_size") ?? tokenCount else {
            throw CheckpointError.missingKey(file: path, key: p + "vocab_size")
        }

        if let type = try file.string(p + "rope.scaling.type"), type != "none" {
            // GGUF has no llama3 scaling type (llama.cpp ships a `rope_freqs` tensor instead); linear/yarn are
            // not implemented by our forward pass.
            throw CheckpointError.unsupportedRopeType(file: path, found: type)
        }
        guard let epsilon = try file.double(p + "attention.layer_norm_rms_epsilon") else {
            throw CheckpointError.missingKey(file: path, key: p + "attention.layer_norm_rms_epsilon")
        }

        let eos = try file.tokenId("tokenizer.ggml.eos_token_id")
        let eot = try file.tokenId("tokenizer.ggml.eot_token_id")
        var eosIds: [Int32] = eos.map { [$0] } ?? []
        if let eot, !eosIds.contains(eot) { eosIds.append(eot) }

        self.init(architecture: "llama",
                  layerCount: try file.requiredPositiveInt(p + "block_count"),
                  hiddenSize: hidden,
                  intermediateSize: try file.requiredPositiveInt(p + "feed_forward_length"),
                  headCount: heads,
                  kvHeadCount: kvHeads,
                  headDim: headDim,
                  vocabularySize: vocab,
                  contextLength: try file.requiredPositiveInt(p + "context_length"),
                  rmsNormEpsilon: Float(epsilon),
                  ropeTheta: try file.double(p + "rope.freq_base") ?? 10000,
                  ropeScaling: nil,
                  tieWordEmbeddings: file.tensorInfo(named: "output.weight") == nil,
                  bosTokenId: try file.tokenId("tokenizer.ggml.bos_token_id"),
                  eosTokenIds: eosIds)
        try validate(file: path)
    }

    /// Range and cross-field checks shared by both formats (errors name ModelConfig's property, since the
    /// source key differs per format).
    func validate(file: String) throws {
        func check(_ ok: Bool, _ key: String, _ expected: String, _ found: Any) throws {
            if !ok { throw CheckpointError.invalidKey(file: file, key: key, expected: expected, found: "\(found)") }
        }
        try check(layerCount > 0, "layerCount", "≥ 1", layerCount)
        try check(hiddenSize > 0, "hiddenSize", "≥ 1", hiddenSize)
        try check(intermediateSize > 0, "intermediateSize", "≥ 1", intermediateSize)
        try check(headCount > 0, "headCount", "≥ 1", headCount)
        try check(kvHeadCount > 0 && headCount % kvHeadCount == 0, "kvHeadCount",
                  "a divisor of headCount \(headCount)", kvHeadCount)
        try check(headDim > 0 && headDim % 2 == 0, "headDim", "a positive even number (RoPE rotates pairs)", headDim)
        try check(vocabularySize > 0, "vocabularySize", "≥ 1", vocabularySize)
        try check(contextLength > 0, "contextLength", "≥ 1", contextLength)
        try check(rmsNormEpsilon > 0 && rmsNormEpsilon.isFinite, "rmsNormEpsilon", "a positive number", rmsNormEpsilon)
        try check(ropeTheta > 0 && ropeTheta.isFinite, "ropeTheta", "a positive number", ropeTheta)
    }
}

extension GGUFVocabulary {
    /// Reads `tokenizer.ggml.*`. A file without a vocabulary gives model "none" and no tokens.
    init(gguf file: GGUFFile) throws {
        let model = try file.string("tokenizer.ggml.model") ?? "none"
        let tokens = try file.stringArray("tokenizer.ggml.tokens") ?? []
        var types: [Int32] = Array(repeating: 1, count: tokens.count)
        if let raw = try file.intArray("tokenizer.ggml.token_type") {
            let converted = raw.compactMap { Int32(exactly: $0) }
            guard raw.count == tokens.count, converted.count == raw.count else {
                throw CheckpointError.invalidKey(file: file.url.path, key: "tokenizer.ggml.token_type",
                                                 expected: "\(tokens.count) Int32 token types",
                                                 found: "\(raw.count) values")
            }
            types = converted
        }
        self.init(model: model,
                  preTokenizer: try file.string("tokenizer.ggml.pre"),
                  tokens: tokens,
                  tokenTypes: types,
                  merges: try file.stringArray("tokenizer.ggml.merges") ?? [],
                  bosTokenId: try file.tokenId("tokenizer.ggml.bos_token_id"),
                  eosTokenId: try file.tokenId("tokenizer.ggml.eos_token_id"),
                  eotTokenId: try file.tokenId("tokenizer.ggml.eot_token_id"),
                  addBOS: try file.bool("tokenizer.ggml.add_bos_token")
                      ?? Self.addsBOSByDefault(model: model, preTokenizer: try file.string("tokenizer.ggml.pre")))
    }

    /// llama.cpp's default when `tokenizer.ggml.add_bos_token` is absent: SentencePiece vocabularies
    /// and the byte-level BPE ones of the Llama 3 family (llama-vocab.cpp sets `add_bos` for these
    /// pre-tokenizers), so a GGUF without the key is prompted as llama.cpp prompts it.
    static func addsBOSByDefault(model: String, preTokenizer: String?) -> Bool {
        model == "llama" || (model == "gpt2" && ["llama-bpe", "llama3", "llama-v3", "falcon3"].contains(preTokenizer ?? ""))
    }
}

extension GGUFVocabulary {
    /// The vocabulary of a GGUF file that may hold nothing else (llama.cpp's `ggml-vocab-*.gguf`
    /// test vocabularies): only the header and metadata are read, no model config is required.
    public init(vocabularyFile url: URL) throws {
        try self.init(gguf: GGUFFile(url: url))
    }
}
