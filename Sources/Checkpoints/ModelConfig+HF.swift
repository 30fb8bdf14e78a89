import Foundation

extension ModelConfig {
    /// Reads an HF `config.json` (transformers `LlamaConfig`, v4 and v5 spellings).
    ///
    /// - `architectures` must contain `LlamaForCausalLM`, or `MistralForCausalLM` whose `sliding_window` is null or
    ///   at least `max_position_embeddings` (then the model is exactly a Llama). Without `architectures`,
    ///   `model_type == "llama"` is accepted. `architecture` is set to "llama" either way.
    /// - RoPE: theta from top-level `rope_theta` (v4) or `rope_parameters.rope_theta` (v5), default 10000;
    ///   scaling from `rope_scaling` (v4) or `rope_parameters` (v5): type "default"/absent → nil, "llama3" →
    ///   `RopeScaling`, anything else → `unsupportedRopeType`.
    /// - Defaults follow `LlamaConfig`: kv heads = heads, head_dim = hidden / heads, rms_norm_eps 1e-6,
    ///   tie_word_embeddings false.
    init(hfConfig json: JSONObject) throws {
        let file = json.file
        let archs = try json.strings("architectures")
        if let archs {
            if archs.contains("LlamaForCausalLM") {
                // plain Llama
            } else if archs.contains("MistralForCausalLM") {
                let window = try json.int("sliding_window")
                let context = try json.requiredInt("max_position_embeddings")
                if let window, window < context {
                    throw CheckpointError.unsupportedArchitecture(
                        file: file, found: "MistralForCausalLM with sliding_window \(window) < max_position_embeddings \(context)")
                }
            } else {
                throw CheckpointError.unsupportedArchitecture(file: file, found: archs.joined(separator: ", "))
            }
        } else {
            guard let modelType = try json.string("model_type") else { throw json.missing("architectures") }
            guard modelType == "llama" else { throw CheckpointError.unsupportedArchitecture(file: file, found: modelType) }
        }

        func positive(_ key: String, default value: Int? = nil) throws -> Int {
            guard let v = try json.int(key) ?? value else { throw json.missing(key) }
            guard v > 0 else { throw CheckpointError.invalidKey(file: file, key: key, expected: "≥ 1", found: "\(v)") }
            return v
        }
        let hidden = try positive("hidden_size")
        let heads = try positive("num_attention_heads")
        let parameters = try json.object("rope_parameters")
        let theta = try json.double("rope_theta") ?? parameters?.double("rope_theta") ?? 10000
        let scaling = try Self.ropeScaling(from: json.object("rope_scaling") ?? parameters, file: file)

        func tokenId(_ i: Int) throws -> Int32 {
            guard let id = Int32(exactly: i), id >= 0 else {
                throw CheckpointError.invalidKey(file: file, key: "bos_token_id/eos_token_id", expected: "a token id", found: "\(i)")
            }
            return id
        }
        self.init(architecture: "llama",
                  layerCount: try positive("num_hidden_layers"),
                  hiddenSize: hidden,
                  intermediateSize: try positive("intermediate_size"),
                  headCount: heads,
                  kvHeadCount: try positive("num_key_value_heads", default: heads),
                  headDim: try positive("head_dim", default: hidden / heads),
                  vocabularySize: try positive("vocab_size"),
                  contextLength: try positive("max_position_embeddings"),
                  rmsNormEpsilon: Float(try json.double("rms_norm_eps") ?? 1e-6),
                  ropeTheta: theta,
                  ropeScaling: scaling,
                  tieWordEmbeddings: try json.bool("tie_word_embeddings") ?? false,
                  bosTokenId: try json.int("bos_token_id").map(tokenId),
                  eosTokenIds: try (json.intOrInts("eos_token_id") ?? []).map(tokenId))
        try validate(file: file)
    }

    /// `rope_scaling` / `rope_parameters` → `RopeScaling?`. The type is under `rope_type` (or legacy `type`).
    private static func ropeScaling(from object: JSONObject?, file: String) throws -> RopeScaling? {
        guard let object else { return nil }
        let type = try object.string("rope_type") ?? object.string("type") ?? "default"
        switch type {
        case "default":
            return nil
        case "llama3":
            return RopeScaling(factor: try object.requiredDouble("factor"),
                               lowFrequencyFactor: try object.requiredDouble("low_freq_factor"),
                               highFrequencyFactor: try object.requiredDouble("high_freq_factor"),
                               originalContextLength: try object.requiredInt("original_max_position_embeddings"))
        default:
            throw CheckpointError.unsupportedRopeType(file: file, found: type)
        }
    }
}
