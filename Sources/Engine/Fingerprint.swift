import Checkpoints
import Llama

/// A model fingerprint: a hash over the architecture, every dimension and every weight.
/// Computing it streams the packed weights once (~0.1 s for SmolLM2).
enum Fingerprint {
    static func of(config c: ModelConfig, weights w: LlamaWeights) -> String {
        var h: UInt64 = 0x6661_7374_6B76
        let dims = "\(c.architecture)|\(c.layerCount)|\(c.hiddenSize)|\(c.intermediateSize)|\(c.headCount)|"
            + "\(c.kvHeadCount)|\(c.headDim)|\(c.vocabularySize)|\(c.rmsNormEpsilon)|\(c.ropeTheta)|"
            + "\(String(describing: c.ropeScaling))|\(c.tieWordEmbeddings)"
        for byte in dims.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01B3 }
        h = w.embeddings.contentHash(seed: h)
        for layer in w.layers {
            h = layer.attentionNorm.contentHash(seed: h)
            h = layer.qkv.contentHash(seed: h)
            h = layer.output.contentHash(seed: h)
            h = layer.mlpNorm.contentHash(seed: h)
            h = layer.gateUp.contentHash(seed: h)
            h = layer.down.contentHash(seed: h)
        }
        h = w.finalNorm.contentHash(seed: h)
        if w.lmHead !== w.embeddings { h = w.lmHead.contentHash(seed: h) }
        return "llama-\(c.layerCount)x\(c.hiddenSize)-" + String(h, radix: 16)
    }
}
