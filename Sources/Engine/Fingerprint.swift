import Checkpoints
import Llama

/// A model fingerprint: a hash over the architecture, every dimension and every weight.
/// `LlamaWeights` takes the hash while loading (it streams the stored weights once, ~0.1 s for
/// SmolLM2), because matrices held only as panels drop their stored rows after packing; the value
/// is the same whatever `--prefill-weights` holds, so every role of one checkpoint agrees.
enum Fingerprint {
    static func of(config c: ModelConfig, weights w: LlamaWeights) -> String {
        "llama-\(c.layerCount)x\(c.hiddenSize)-" + String(w.contentHash, radix: 16)
    }
}
