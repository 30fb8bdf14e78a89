import Checkpoints
import Foundation

/// Writes a complete HF model directory: `config.json`, `model.safetensors` and, when given, `tokenizer.json`
/// and `tokenizer_config.json`.
public enum HFDirectoryWriter {
    /// A transformers-v4-style `config.json` object for `config` (top-level `rope_theta`, `torch_dtype`).
    /// Tests edit the dictionary to produce variants.
    public static func configObject(_ config: ModelConfig, dtype: ElementType = .f32) -> [String: Any] {
        var object: [String: Any] = [
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": config.hiddenSize,
            "intermediate_size": config.intermediateSize,
            "num_hidden_layers": config.layerCount,
            "num_attention_heads": config.headCount,
            "num_key_value_heads": config.kvHeadCount,
            "head_dim": config.headDim,
            "max_position_embeddings": config.contextLength,
            "rms_norm_eps": Double(config.rmsNormEpsilon),
            "rope_theta": config.ropeTheta,
            "hidden_act": "silu",
            "tie_word_embeddings": config.tieWordEmbeddings,
            "vocab_size": config.vocabularySize,
            "torch_dtype": ["f32": "float32", "f16": "float16", "bf16": "bfloat16"][dtype.rawValue] ?? "float32",
        ]
        if let s = config.ropeScaling {
            object["rope_scaling"] = [
                "rope_type": "llama3", "factor": s.factor, "low_freq_factor": s.lowFrequencyFactor,
                "high_freq_factor": s.highFrequencyFactor, "original_max_position_embeddings": s.originalContextLength,
            ] as [String: Any]
        } else {
            object["rope_scaling"] = NSNull()
        }
        if let bos = config.bosTokenId { object["bos_token_id"] = Int(bos) }
        switch config.eosTokenIds.count {
        case 0: break
        case 1: object["eos_token_id"] = Int(config.eosTokenIds[0])
        default: object["eos_token_id"] = config.eosTokenIds.map { Int($0) }
        }
        return object
    }

    /// Serialises a JSON object (sorted keys, pretty-printed) to `url`.
    public static func writeJSON(_ object: Any, to url: URL) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: url)
    }

    /// Writes the directory (created if needed). `tensors` are HF names with row-major shapes and f32 values,
    /// stored as `dtype` (f32, f16 or bf16). `config` may be a `[String: Any]` override of `configObject`.
    public static func write(directory: URL, config: ModelConfig,
                             tensors: [(name: String, shape: [Int], values: [Float])],
                             dtype: ElementType = .f32,
                             configObject override: [String: Any]? = nil,
                             tokenizerJSON: String? = nil, tokenizerConfig: [String: Any]? = nil) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try writeJSON(override ?? configObject(config, dtype: dtype), to: directory.appendingPathComponent("config.json"))
        var st = SafetensorsWriter()
        for t in tensors { st.add(name: t.name, shape: t.shape, type: dtype, values: t.values) }
        try st.write(to: directory.appendingPathComponent("model.safetensors"))
        if let tokenizerJSON {
            try Data(tokenizerJSON.utf8).write(to: directory.appendingPathComponent("tokenizer.json"))
        }
        if let tokenizerConfig {
            try writeJSON(tokenizerConfig, to: directory.appendingPathComponent("tokenizer_config.json"))
        }
    }
}
