import Checkpoints
import Tensors

/// All weights of a Llama-family decoder, in the forms the forward pass uses.
///
/// Projections that read the same input are stacked (Q|K|V and gate|up) so that one kernel call
/// serves them. Matrices keep their checkpoint format for decode (borrowed from the file mapping
/// where they are not stacked) plus prefill GEMM panels in the form `PrefillWeights` picks (f32 or a
/// compact form of the stored values); the embedding table (and the tied LM head) is only ever read
/// a row or a vector at a time, so it has no panels. Where the panels replace the stored rows
/// (`PanelFormat.replacesStored`: f16, bf16 and q8_0 weights under `auto` or `compact`) the layer
/// matrices keep only their panels: the stacks' stored copies are freed and the mapped pages of
/// every part (o_proj and down_proj included) are released once packed and hashed, so the file is
/// not held beside the panels.
public final class LlamaWeights: @unchecked Sendable {
    public struct Layer: @unchecked Sendable {
        public let attentionNorm: Tensor       // [hidden]
        public let qkv: WeightMatrix           // [(H + 2·Hk)·d, hidden]
        public let output: WeightMatrix        // [hidden, H·d]
        public let mlpNorm: Tensor             // [hidden]
        public let gateUp: WeightMatrix        // [2·ffn, hidden]
        public let down: WeightMatrix          // [hidden, ffn]
    }

    public let config: ModelConfig
    public let embeddings: WeightMatrix        // [vocab, hidden], packed only
    public let layers: [Layer]
    public let finalNorm: Tensor               // [hidden]
    public let lmHead: WeightMatrix            // [vocab, hidden]; the embeddings when tied
    /// Per-frequency RoPE divisors [d/2] (llama.cpp stores Llama-3.x rope scaling this way, as the
    /// GGUF tensor `rope_freqs.weight`, instead of in metadata); nil when absent.
    public let ropeFrequencyFactors: [Float]?
    /// A hash over the architecture, every dimension and every weight's stored bytes (the model
    /// fingerprint's value). Taken while loading, because panel-only matrices drop their stored
    /// rows; the same for every `prefill` choice, so a prefill worker and a decode worker of one
    /// checkpoint agree.
    public let contentHash: UInt64

    /// Loads and validates every tensor. Throws `LlamaError` naming the file and tensor on any mismatch.
    /// - Parameter prefill: how prefill's GEMM holds the matrices; nil for no panels at all. A
    ///   process that never runs prefill (the coordinator, a decode worker) passes nil; products
    ///   then still work, through the stored-format kernels.
    /// - Parameter contextLimit: serve at most this many positions (caps the checkpoint's context
    ///   length; the memory plan sizes KV and scratch by it).
    public init(checkpoint: any Checkpoint, prefill: PrefillWeights? = .auto, contextLimit: Int? = nil) throws {
        var c = checkpoint.config
        if let contextLimit { c.contextLength = min(c.contextLength, contextLimit) }
        let file = checkpoint.url.path
        try Self.validate(c, file: file)
        config = c
        let hidden = c.hiddenSize, d = c.headDim
        func load(_ name: String, _ shape: [Int]) throws -> WeightTensor {
            guard checkpoint.tensorNames.contains(name) else { throw LlamaError.missingTensor(file: file, name: name) }
            let t = try checkpoint.tensor(named: name)
            guard t.shape == shape else {
                throw LlamaError.badTensorShape(file: file, name: name, expected: shape, found: t.shape)
            }
            return t
        }
        func vector(_ name: String, _ n: Int) throws -> Tensor {
            let t = try load(name, [n])
            let out = Tensor(shape: [n])
            try out.withUnsafeMutablePointer { p in
                try t.dequantize(into: UnsafeMutableBufferPointer(start: p, count: n))
            }
            return out
        }
        // The fingerprint's hash is chained through the weights in this order (embeddings; per layer
        // the norm, Q|K|V, o_proj, the norm, gate|up, down_proj; the final norm; an untied head),
        // each taken as soon as the matrix is built, before panel-only matrices drop their rows.
        var hash = Self.hashSeed(c)
        func hashed(_ t: Tensor) -> Tensor { hash = t.contentHash(seed: hash); return t }
        /// Hashes `m`, then, when its panels replace the stored rows, drops them and the mapped
        /// pages of `tensors` (its parts, or itself).
        func finish(_ m: WeightMatrix, _ tensors: [WeightTensor]) -> WeightMatrix {
            hash = m.contentHash(seed: hash)
            if let form = m.panelFormat, form.replacesStored(m.format) {
                m.releaseStoredRows()
                for t in tensors { t.releaseResidentPages() }
            }
            return m
        }
        func matrix(_ name: String, _ rows: Int, _ cols: Int, panels: Bool) throws -> (WeightMatrix, WeightTensor) {
            let t = try load(name, [rows, cols])
            let format = Self.weightFormat(t.type)
            guard cols % format.blockSize == 0 else {
                throw LlamaError.unsupportedTensorType(file: file, name: name, type: "\(t.type) with \(cols) columns")
            }
            let panelFormat = panels ? prefill?.panelFormat(for: format) : nil
            let m = t.withUnsafeBytes {
                WeightMatrix(format: format, rows: rows, columns: cols, bytes: $0, owner: t.storageOwner, prefill: panelFormat)
            }
            return (m, t)
        }
        /// A matrix read in place (o_proj, down_proj): hashed, and panel-only where the form allows.
        func single(_ name: String, _ rows: Int, _ cols: Int) throws -> WeightMatrix {
            let (m, t) = try matrix(name, rows, cols, panels: true)
            return finish(m, [t])
        }
        /// Stacked parts are borrowed, copied once into the stack, and their mapped pages dropped
        /// before the stack's panels are packed.
        func stack(_ parts: [(WeightMatrix, WeightTensor)]) -> WeightMatrix {
            let m = WeightMatrix.stacking(parts.map(\.0), prefill: prefill?.panelFormat(for: parts[0].0.format)) {
                for (_, t) in parts { t.releaseResidentPages() }
            }
            return finish(m, [])
        }
        let (embeddingMatrix, _) = try matrix("model.embed_tokens.weight", c.vocabularySize, hidden, panels: false)
        embeddings = embeddingMatrix
        hash = embeddings.contentHash(seed: hash)
        var layers: [Layer] = []
        for i in 0..<c.layerCount {
            let p = "model.layers.\(i)."
            let attentionNorm = hashed(try vector(p + "input_layernorm.weight", hidden))
            let q = try matrix(p + "self_attn.q_proj.weight", c.headCount * d, hidden, panels: false)
            let k = try matrix(p + "self_attn.k_proj.weight", c.kvHeadCount * d, hidden, panels: false)
            let v = try matrix(p + "self_attn.v_proj.weight", c.kvHeadCount * d, hidden, panels: false)
            guard q.0.format == k.0.format && k.0.format == v.0.format else {
                throw LlamaError.unsupportedTensorType(file: file, name: p + "self_attn.*", type: "mixed formats within Q/K/V")
            }
            let qkv = stack([q, k, v])
            let output = try single(p + "self_attn.o_proj.weight", hidden, c.headCount * d)
            let mlpNorm = hashed(try vector(p + "post_attention_layernorm.weight", hidden))
            let gate = try matrix(p + "mlp.gate_proj.weight", c.intermediateSize, hidden, panels: false)
            let up = try matrix(p + "mlp.up_proj.weight", c.intermediateSize, hidden, panels: false)
            guard gate.0.format == up.0.format else {
                throw LlamaError.unsupportedTensorType(file: file, name: p + "mlp.*", type: "mixed formats within gate/up")
            }
            let gateUp = stack([gate, up])
            let down = try single(p + "mlp.down_proj.weight", hidden, c.intermediateSize)
            layers.append(Layer(attentionNorm: attentionNorm, qkv: qkv, output: output, mlpNorm: mlpNorm,
                                gateUp: gateUp, down: down))
        }
        self.layers = layers
        finalNorm = hashed(try vector("model.norm.weight", hidden))
        if checkpoint.tensorNames.contains("rope_freqs.weight") {
            let t = try load("rope_freqs.weight", [d / 2])
            var factors = [Float](repeating: 0, count: d / 2)
            try factors.withUnsafeMutableBufferPointer { try t.dequantize(into: $0) }
            guard factors.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw LlamaError.invalidConfig(file: file, reason: "rope_freqs.weight holds non-positive factors")
            }
            ropeFrequencyFactors = factors
        } else {
            ropeFrequencyFactors = nil
        }
        if c.tieWordEmbeddings && !checkpoint.tensorNames.contains("lm_head.weight") {
            lmHead = embeddings
        } else {
            lmHead = try matrix("lm_head.weight", c.vocabularySize, hidden, panels: false).0
            hash = lmHead.contentHash(seed: hash)
        }
        contentHash = hash
    }

    /// The start of `contentHash`: the architecture and every dimension (FNV-1a over their text).
    static func hashSeed(_ c: ModelConfig) -> UInt64 {
        var h: UInt64 = 0x6661_7374_6B76
        let dims = "\(c.architecture)|\(c.layerCount)|\(c.hiddenSize)|\(c.intermediateSize)|\(c.headCount)|"
            + "\(c.kvHeadCount)|\(c.headDim)|\(c.vocabularySize)|\(c.rmsNormEpsilon)|\(c.ropeTheta)|"
            + "\(String(describing: c.ropeScaling))|\(c.tieWordEmbeddings)"
        for byte in dims.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return h
    }

    static func weightFormat(_ type: ElementType) -> WeightFormat {
        switch type {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        case .q8_0: return .q8_0
        case .q4_0: return .q4_0
        case .q4_1: return .q4_1
        }
    }

    static func validate(_ c: ModelConfig, file: String) throws {
        guard ["llama", "mistral"].contains(c.architecture.lowercased()) else {
            throw LlamaError.unsupportedArchitecture(file: file, architecture: c.architecture)
        }
        func require(_ ok: Bool, _ reason: String) throws {
            if !ok { throw LlamaError.invalidConfig(file: file, reason: reason) }
        }
        try require(c.layerCount > 0, "layer count \(c.layerCount) must be positive")
        try require(c.hiddenSize > 0 && c.intermediateSize > 0, "hidden/intermediate sizes must be positive")
        try require(c.headCount > 0 && c.kvHeadCount > 0 && c.headCount % c.kvHeadCount == 0,
                    "query heads \(c.headCount) must be a positive multiple of KV heads \(c.kvHeadCount)")
        try require(c.headDim > 0 && c.headDim % 2 == 0, "head_dim \(c.headDim) must be even")
        try require(c.vocabularySize > 0, "vocabulary size must be positive")
        try require(c.contextLength > 0, "context length must be positive")
        try require(c.ropeTheta > 0, "rope theta must be positive")
    }

    /// Bytes of all weights as f32 (the reference size for memory budgets).
    public var f32WeightBytes: Int {
        let c = config
        let perLayer = 2 * c.hiddenSize + (c.headCount + 2 * c.kvHeadCount) * c.headDim * c.hiddenSize
            + c.hiddenSize * c.headCount * c.headDim + 3 * c.intermediateSize * c.hiddenSize
        let head = (lmHead === embeddings) ? 0 : c.vocabularySize * c.hiddenSize
        return 4 * (c.layerCount * perLayer + c.vocabularySize * c.hiddenSize + head + c.hiddenSize)
    }
}
