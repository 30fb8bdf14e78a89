import Checkpoints

/// Writing Llama models the way llama.cpp's `convert_hf_to_gguf.py` does.
extension GGUFWriter {
    /// Sets the `general.*` and `llama.*` hyper-parameter keys for `config` (head_dim as key_length and
    /// rope.dimension_count; theta and epsilon as f32, as llama.cpp stores them).
    public mutating func setLlamaMetadata(_ config: ModelConfig, name: String = "tiny-llama") {
        let c = config
        set("general.architecture", .string("llama"))
        set("general.name", .string(name))
        set("llama.block_count", .uint32(UInt32(c.layerCount)))
        set("llama.context_length", .uint32(UInt32(c.contextLength)))
        set("llama.embedding_length", .uint32(UInt32(c.hiddenSize)))
        set("llama.feed_forward_length", .uint32(UInt32(c.intermediateSize)))
        set("llama.attention.head_count", .uint32(UInt32(c.headCount)))
        set("llama.attention.head_count_kv", .uint32(UInt32(c.kvHeadCount)))
        set("llama.attention.key_length", .uint32(UInt32(c.headDim)))
        set("llama.attention.value_length", .uint32(UInt32(c.headDim)))
        set("llama.rope.dimension_count", .uint32(UInt32(c.headDim)))
        set("llama.rope.freq_base", .float32(Float(c.ropeTheta)))
        set("llama.attention.layer_norm_rms_epsilon", .float32(c.rmsNormEpsilon))
        set("llama.vocab_size", .uint32(UInt32(c.vocabularySize)))
    }

    /// Adds an HF-named Llama tensor under its GGUF name (`model.layers.0.self_attn.q_proj.weight` →
    /// `blk.0.attn_q.weight`). With `permuteQK` (the default, as llama.cpp does) q_proj/k_proj rows are
    /// permuted by `GGUFWriter.permuteQK` with the query/KV head count of `config`.
    public mutating func addLlamaTensor(hfName: String, shape: [Int], type: ElementType, values: [Float],
                                        config: ModelConfig, permuteQK: Bool = true) {
        var values = values
        if permuteQK, let heads = LlamaGGUFNames.permutedHeads(hfName: hfName, config: config) {
            values = Self.permuteQK(values, rows: shape[0], cols: shape[1], headCount: heads)
        }
        addTensor(name: LlamaGGUFNames.ggufName(forHF: hfName), shape: shape, type: type, values: values)
    }
}
