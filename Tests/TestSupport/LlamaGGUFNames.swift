import Checkpoints

/// HF ↔ GGUF tensor names for Llama, written independently of the library's map so tests cross-check it
/// (llama.cpp `gguf-py/gguf/tensor_mapping.py`).
public enum LlamaGGUFNames {
    static let blockPairs: [(gguf: String, hf: String)] = [
        ("attn_norm", "input_layernorm"), ("attn_q", "self_attn.q_proj"), ("attn_k", "self_attn.k_proj"),
        ("attn_v", "self_attn.v_proj"), ("attn_output", "self_attn.o_proj"), ("ffn_norm", "post_attention_layernorm"),
        ("ffn_gate", "mlp.gate_proj"), ("ffn_up", "mlp.up_proj"), ("ffn_down", "mlp.down_proj"),
    ]

    /// GGUF names in the order llama.cpp writes them.
    public static func ggufOrder(layerCount: Int, tied: Bool) -> [String] {
        var names = ["token_embd.weight"]
        for i in 0 ..< layerCount { names += blockPairs.map { "blk.\(i).\($0.gguf).weight" } }
        names.append("output_norm.weight")
        if !tied { names.append("output.weight") }
        return names
    }

    public static func hfName(forGGUF name: String) -> String {
        switch name {
        case "token_embd.weight": return "model.embed_tokens.weight"
        case "output_norm.weight": return "model.norm.weight"
        case "output.weight": return "lm_head.weight"
        default:
            let parts = name.split(separator: ".")
            guard parts.count == 4, let pair = blockPairs.first(where: { $0.gguf == parts[2] }) else { return name }
            return "model.layers.\(parts[1]).\(pair.hf).weight"
        }
    }

    /// The GGUF name of an HF Llama tensor (unknown names are returned unchanged).
    public static func ggufName(forHF name: String) -> String {
        switch name {
        case "model.embed_tokens.weight": return "token_embd.weight"
        case "model.norm.weight": return "output_norm.weight"
        case "lm_head.weight": return "output.weight"
        default:
            guard name.hasPrefix("model.layers."), name.hasSuffix(".weight") else { return name }
            let inner = name.dropFirst("model.layers.".count).dropLast(".weight".count)
            guard let dot = inner.firstIndex(of: "."),
                  let pair = blockPairs.first(where: { $0.hf == inner[inner.index(after: dot)...] }) else { return name }
            return "blk.\(inner[..<dot]).\(pair.gguf).weight"
        }
    }

    /// The head count llama.cpp permutes an HF tensor by (q_proj: heads, k_proj: KV heads), or nil.
    public static func permutedHeads(hfName: String, config: ModelConfig) -> Int? {
        if hfName.hasSuffix("self_attn.q_proj.weight") { return config.headCount }
        if hfName.hasSuffix("self_attn.k_proj.weight") { return config.kvHeadCount }
        return nil
    }
}
