import Checkpoints
import Foundation
import Tensors

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
        // The library's own table of HF names and shapes (the GGUF names are cross-checked separately
        // in LlamaGGUFNames, written independently of the library).
        let shapes = LlamaLayout.expectedShapes(config)
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
