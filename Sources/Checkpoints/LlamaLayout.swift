/// The Llama tensor set in HF naming, the GGUF → HF name map, and llama.cpp's Q/K row permutation.
public enum LlamaLayout {
    private static let blockNames: [String: String] = [
        "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
        "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj",
        "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
    ]

    /// The HF name of a GGUF tensor (`blk.3.attn_q.weight` → `model.layers.3.self_attn.q_proj.weight`), or nil for
    /// names outside the Llama set (those are exposed under their GGUF name, e.g. `rope_freqs.weight`).
    public static func hfName(forGGUF name: String) -> String? {
        switch name {
        case "token_embd.weight": return "model.embed_tokens.weight"
        case "output_norm.weight": return "model.norm.weight"
        case "output.weight": return "lm_head.weight"
        default: break
        }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "blk", parts[3] == "weight",
              let layer = Int(parts[1]), layer >= 0, String(layer) == parts[1],
              let hf = blockNames[String(parts[2])] else { return nil }
        return "model.layers.\(layer).\(hf).weight"
    }

    /// For GGUF `attn_q`/`attn_k` tensors, the head count whose permutation must be undone.
    static func permutedHeadCount(forGGUF name: String, config: ModelConfig) -> Int? {
        if name.hasSuffix(".attn_q.weight") && name.hasPrefix("blk.") { return config.headCount }
        if name.hasSuffix(".attn_k.weight") && name.hasPrefix("blk.") { return config.kvHeadCount }
        return nil
    }

    /// Every tensor a Llama decoder needs, with its HF shape `[rows, cols]` / `[n]`.
    public static func expectedShapes(_ c: ModelConfig) -> [String: [Int]] {
        let q = c.headCount * c.headDim, kv = c.kvHeadCount * c.headDim
        var shapes: [String: [Int]] = [
            "model.embed_tokens.weight": [c.vocabularySize, c.hiddenSize],
            "model.norm.weight": [c.hiddenSize],
        ]
        if !c.tieWordEmbeddings { shapes["lm_head.weight"] = [c.vocabularySize, c.hiddenSize] }
        for i in 0 ..< c.layerCount {
            let l = "model.layers.\(i)."
            shapes[l + "input_layernorm.weight"] = [c.hiddenSize]
            shapes[l + "post_attention_layernorm.weight"] = [c.hiddenSize]
            shapes[l + "self_attn.q_proj.weight"] = [q, c.hiddenSize]
            shapes[l + "self_attn.k_proj.weight"] = [kv, c.hiddenSize]
            shapes[l + "self_attn.v_proj.weight"] = [kv, c.hiddenSize]
            shapes[l + "self_attn.o_proj.weight"] = [c.hiddenSize, q]
            shapes[l + "mlp.gate_proj.weight"] = [c.intermediateSize, c.hiddenSize]
            shapes[l + "mlp.up_proj.weight"] = [c.intermediateSize, c.hiddenSize]
            shapes[l + "mlp.down_proj.weight"] = [c.hiddenSize, c.intermediateSize]
        }
        return shapes
    }

    /// Checks that every required tensor is present with the shape the config implies, so a model builder can
    /// trust shapes and the Q/K unpermutation (which needs `rows == heads × headDim`) is well defined.
    static func validate(shapes: [String: [Int]], config: ModelConfig, file: String) throws {
        // Every layer needs its nine tensors: a layer count the file cannot hold is refused before the
        // expected-shape table (nine entries per layer) is built from it. Found by FuzzGGUF: a 1.6 KB
        // file claiming millions of blocks made that table take gigabytes.
        guard config.layerCount <= shapes.count / 9 else {
            throw CheckpointError.missingTensor(file: file, name: "model.layers.\(shapes.count / 9).* (the config says \(config.layerCount) layers; the file has \(shapes.count) tensors)")
        }
        for (name, expected) in expectedShapes(config).sorted(by: { $0.key < $1.key }) {
            guard let found = shapes[name] else { throw CheckpointError.missingTensor(file: file, name: name) }
            guard found == expected else {
                throw CheckpointError.invalidTensor(file: file, tensor: name, expected: "shape \(expected) (from the config)",
                                                    found: "shape \(found)")
            }
        }
    }

    /// Undoes llama.cpp's `permute(w, n_head) = w.reshape(n_head, 2, d/2, cols).swapaxes(1, 2)` on whole rows:
    /// HF row `h·d + s·d/2 + i` is GGUF row `h·d + 2i + s` (d = rows / heads, s ∈ {0, 1}, i < d/2).
    /// Rows are copied as opaque `rowBytes`-byte runs, so this works for block-quantised rows too.
    /// Requires `rows % (2·heads) == 0` (guaranteed by `validate`).
    static func unpermuteRows(from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer,
                              rowCount: Int, rowBytes: Int, headCount: Int) {
        let headRows = rowCount / headCount, half = headRows / 2
        for h in 0 ..< headCount {
            for i in 0 ..< half {
                for s in 0 ..< 2 {
                    let hfRow = h * headRows + s * half + i
                    let ggufRow = h * headRows + 2 * i + s
                    (destination + hfRow * rowBytes).copyMemory(from: source + ggufRow * rowBytes, byteCount: rowBytes)
                }
            }
        }
    }
}
