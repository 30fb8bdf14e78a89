import Foundation

/// Storage type of a weight tensor as it sits in the checkpoint file.
/// Block formats follow ggml: `q8_0` = 32 weights per 34-byte block (f16 scale, 32 × int8);
/// `q4_0` = 32 weights per 18-byte block (f16 scale, 16 bytes of nibbles, value = (q − 8)·d);
/// `q4_1` = 32 weights per 20-byte block (f16 scale d, f16 min m, 16 bytes of nibbles, value = q·d + m).
/// In the 4-bit blocks byte i holds weight i in its low nibble and weight i+16 in its high nibble.
public enum ElementType: String, Sendable, Equatable, CaseIterable {
    case f32, f16, bf16, q8_0, q4_0, q4_1

    /// Weights per block (1 for the plain float types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q8_0, .q4_0, .q4_1: return 32
        }
    }

    /// Bytes per block.
    public var bytesPerBlock: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q8_0: return 34
        case .q4_0: return 18
        case .q4_1: return 20
        }
    }
}

/// Llama-3 style RoPE frequency scaling (`rope_scaling.rope_type == "llama3"`).
public struct RopeScaling: Sendable, Equatable, Codable {
    public var factor: Double
    public var lowFrequencyFactor: Double
    public var highFrequencyFactor: Double
    public var originalContextLength: Int

    public init(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalContextLength: Int) {
        self.factor = factor
        self.lowFrequencyFactor = lowFrequencyFactor
        self.highFrequencyFactor = highFrequencyFactor
        self.originalContextLength = originalContextLength
    }
}

/// Hyper-parameters of a Llama-family decoder, read from GGUF metadata or an HF `config.json`.
public struct ModelConfig: Sendable, Equatable, Codable {
    public var architecture: String
    public var layerCount: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var vocabularySize: Int
    public var contextLength: Int
    public var rmsNormEpsilon: Float
    public var ropeTheta: Double
    public var ropeScaling: RopeScaling?
    public var tieWordEmbeddings: Bool
    public var bosTokenId: Int32?
    public var eosTokenIds: [Int32]

    public init(architecture: String = "llama", layerCount: Int, hiddenSize: Int, intermediateSize: Int,
                headCount: Int, kvHeadCount: Int, headDim: Int, vocabularySize: Int, contextLength: Int,
                rmsNormEpsilon: Float, ropeTheta: Double, ropeScaling: RopeScaling? = nil,
                tieWordEmbeddings: Bool, bosTokenId: Int32? = nil, eosTokenIds: [Int32] = []) {
        self.architecture = architecture
        self.layerCount = layerCount
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDim = headDim
        self.vocabularySize = vocabularySize
        self.contextLength = contextLength
        self.rmsNormEpsilon = rmsNormEpsilon
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.tieWordEmbeddings = tieWordEmbeddings
        self.bosTokenId = bosTokenId
        self.eosTokenIds = eosTokenIds
    }
}

/// The type and row-major shape of a stored tensor, without its bytes.
public struct TensorLayout: Sendable, Equatable {
    public let type: ElementType
    /// Row-major shape, outermost first.
    public let shape: [Int]

    public init(type: ElementType, shape: [Int]) {
        self.type = type
        self.shape = shape
    }

    /// Rows of a matrix (the first dimension), or 1 for a vector.
    public var rowCount: Int { shape.count >= 2 ? shape[0] : 1 }

    /// Elements per row (the last dimension).
    public var columnCount: Int { shape.last ?? 1 }
}

/// A model checkpoint on disk, presented in Hugging Face terms whatever the file format: tensor names are HF
/// names (`model.layers.0.self_attn.q_proj.weight`), shapes are row-major `[rows, cols]`, and Q/K rows are in HF
/// (rotate-half) order. Format differences end here.
///
/// Tied embeddings: when `config.tieWordEmbeddings` is true there is no `lm_head.weight`; the output projection
/// is `model.embed_tokens.weight`.
public protocol Checkpoint: AnyObject, Sendable {
    /// The GGUF file or the HF directory.
    var url: URL { get }
    /// `"gguf"` or `"safetensors"`.
    var format: String { get }
    var config: ModelConfig { get }
    /// HF tensor names, sorted.
    var tensorNames: [String] { get }
    /// The tensor named `name` (HF name). Throws `CheckpointError.missingTensor(file:name:)` if absent.
    func tensor(named name: String) throws -> WeightTensor
    /// The type and shape of the tensor named `name`, from the tensor table alone: nothing is read
    /// or copied (a memory plan asks this of every tensor before loading any). Throws
    /// `CheckpointError.missingTensor(file:name:)` if absent.
    func tensorLayout(named name: String) throws -> TensorLayout
    /// Where the tokenizer comes from: GGUF metadata or a tokenizer.json file.
    var tokenizerSource: TokenizerSource { get }
    /// The Jinja chat template, if the checkpoint has one.
    var chatTemplate: String? { get }
}
