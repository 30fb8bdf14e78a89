import Checkpoints
import Foundation

/// A deterministic random Llama model in HF layout, small enough to run naive reference code against, writable
/// as an HF directory or as a GGUF (Q/K permuted like llama.cpp's converter, matrices in any `ElementType`).
///
/// Weights: matrices uniform with standard deviation 0.1, norm weights uniform in [0.9, 1.1]. Each tensor is drawn
/// from its own SplitMix64 stream seeded by (seed, name), so adding layers never changes existing tensors, and no
/// libm function is involved, so the values are identical on every platform.
///
/// "Same weights via either format ⇒ same logits": use `quantized(to:)` first, then `writeGGUF(…, matrixType:)`
/// with the same type and `writeHF(…, dtype: .f32)`; both readers then return bit-identical f32 weights.
public struct TinyLlama: Sendable {
    /// hidden 64, 2 layers, 4 query heads / 2 KV heads (GQA), head_dim 16, FFN 96, vocab 64, untied.
    public static let defaultConfig = ModelConfig(
        layerCount: 2, hiddenSize: 64, intermediateSize: 96, headCount: 4, kvHeadCount: 2, headDim: 16,
        vocabularySize: 64, contextLength: 256, rmsNormEpsilon: 1e-5, ropeTheta: 10000, tieWordEmbeddings: false,
        bosTokenId: 0, eosTokenIds: [0])

    public let config: ModelConfig
    public let seed: UInt64
    /// HF name → row-major f32 values.
    public private(set) var weights: [String: [Float]]
    /// HF name → row-major shape (`[rows, cols]` or `[n]`).
    public let shapes: [String: [Int]]

    /// HF names, sorted.
    public var tensorNames: [String] { weights.keys.sorted() }

    public init(config: ModelConfig = TinyLlama.defaultConfig, seed: UInt64 = 1) {
        self.config = config
        self.seed = seed
        let c = config
        let q = c.headCount * c.headDim, kv = c.kvHeadCount * c.headDim
        var shapes: [String: [Int]] = ["model.embed_tokens.weight": [c.vocabularySize, c.hiddenSize],
                                       "model.norm.weight": [c.hiddenSize]]
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
        self.shapes = shapes
        let scale: Float = 0.1 * Float(3).squareRoot()  // uniform [-a, a) has std a/√3
        var weights: [String: [Float]] = [:]
        for (name, shape) in shapes {
            var rng = SplitMix64(seed: seed ^ Self.fnv1a(name))
            let count = shape.reduce(1, *)
            if shape.count == 1 {
                weights[name] = (0 ..< count).map { _ in 1 + 0.1 * rng.nextSigned() }
            } else {
                weights[name] = (0 ..< count).map { _ in scale * rng.nextSigned() }
            }
        }
        self.weights = weights
    }

    /// A copy whose matrices went through `type` (encode then decode); norms stay f32 (GGUF keeps them F32).
    public func quantized(to type: ElementType) -> TinyLlama {
        var copy = self
        for (name, shape) in shapes where shape.count == 2 {
            copy.weights[name] = ReferenceQuantizer.roundTrip(weights[name]!, as: type)
        }
        return copy
    }

    /// `(name, shape, values)` triples in name order, for `HFDirectoryWriter`.
    public var tensorList: [(name: String, shape: [Int], values: [Float])] {
        tensorNames.map { ($0, shapes[$0]!, weights[$0]!) }
    }

    /// Writes config.json, model.safetensors (`dtype` f32/f16/bf16) and, unless `withTokenizer` is false,
    /// tokenizer.json + tokenizer_config.json for the toy vocabulary.
    public func writeHF(to directory: URL, dtype: ElementType = .f32, withTokenizer: Bool = true) throws {
        try HFDirectoryWriter.write(
            directory: directory, config: config, tensors: tensorList, dtype: dtype,
            tokenizerJSON: withTokenizer ? TinyVocabulary(size: config.vocabularySize).tokenizerJSON() : nil,
            tokenizerConfig: withTokenizer ? ["bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
                                              "tokenizer_class": "PreTrainedTokenizerFast"] : nil)
    }

    /// A GGUF writer holding the model: llama metadata, the toy gpt2 vocabulary, matrices as `matrixType` with
    /// Q/K rows permuted as llama.cpp does (`permuteQK: false` writes them unpermuted, a broken file on purpose),
    /// F32 norms; no `output.weight` when embeddings are tied. Tests may edit it before serialising.
    public func ggufWriter(matrixType: ElementType = .f32, permuteQK: Bool = true) -> GGUFWriter {
        var w = GGUFWriter()
        w.setLlamaMetadata(config, name: "tiny-llama-\(seed)")
        TinyVocabulary(size: config.vocabularySize).addMetadata(to: &w, bos: config.bosTokenId, eos: config.eosTokenIds)
        for name in LlamaGGUFNames.ggufOrder(layerCount: config.layerCount, tied: config.tieWordEmbeddings) {
            let hf = LlamaGGUFNames.hfName(forGGUF: name)
            guard let shape = shapes[hf], let values = weights[hf] else { continue }
            w.addLlamaTensor(hfName: hf, shape: shape, type: shape.count == 2 ? matrixType : .f32, values: values,
                             config: config, permuteQK: permuteQK)
        }
        return w
    }

    /// Writes `ggufWriter(matrixType:)` to `url`.
    public func writeGGUF(to url: URL, matrixType: ElementType = .f32) throws {
        try ggufWriter(matrixType: matrixType).write(to: url)
    }

    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast, and the same sequence everywhere.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1) with 24 random bits (exact in f32).
    public mutating func nextUnit() -> Float { Float(next() >> 40) * 0x1p-24 }
    /// Uniform in [-1, 1).
    public mutating func nextSigned() -> Float { 2 * nextUnit() - 1 }
}
