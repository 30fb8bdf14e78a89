import Engine
import FastKV
import Wire

/// The engine's compression knobs (FastKV target) as the wire names them (Wire target).
public typealias EngineCompression = FastKV.CompressionConfig
public typealias WireCompression = Wire.CompressionConfig

/// Conversions between the engine's request types and their wire forms. Rates travel as Float32;
/// they come back through their shortest decimal spelling, so `--kv-rate 0.1` is 0.1 (the Double)
/// again on the prefill worker and budgets ⌊n·r⌋ match `fastkv generate` exactly.
public enum WireConversion {
    /// `Compression.tsp_layer` value meaning "the model's default (L/2 − 1)": the client does not know
    /// the layer count; the coordinator resolves it before any worker sees the request.
    public static let defaultTSPLayer = Int(UInt32.max)

    public static func sampling(_ p: SamplingParameters) -> Sampling {
        Sampling(maxTokens: p.maxTokens, temperature: p.temperature, topK: p.topK > 0 ? p.topK : nil,
                 topP: p.topP < 1 ? p.topP : nil, seed: p.seed, stop: p.stopStrings)
    }

    public static func parameters(_ s: Sampling) -> SamplingParameters {
        SamplingParameters(temperature: s.temperature, topK: s.topK ?? 0, topP: s.topP ?? 1, seed: s.seed ?? 0,
                           maxTokens: s.maxTokens, stopStrings: s.stop)
    }

    public static func compression(_ c: EngineCompression) -> WireCompression {
        let method: CompressionMethod = switch c.method {
        case .full: .full
        case .fastkv: .fastKV
        case .snapkv: .snapKV
        case .streamingllm: .streamingLLM
        case .gemfilter: .gemFilter
        }
        return WireCompression(method: method, kvRate: Float(c.retainRate), kvBudget: c.kvBudget,
                               tspRate: Float(c.tspRate), tspLength: c.tspLength,
                               tspLayer: c.tspLayer ?? defaultTSPLayer, windowSize: c.windowSize,
                               kernelSize: c.kernelSize, pooling: c.pooling == .max ? .max : .avg)
    }

    public static func compression(_ c: WireCompression) -> EngineCompression {
        let method: EngineCompression.Method = switch c.method {
        case .full: .full
        case .fastKV: .fastkv
        case .snapKV: .snapkv
        case .streamingLLM: .streamingllm
        case .gemFilter: .gemfilter
        }
        return EngineCompression(method: method, retainRate: decimal(c.kvRate), kvBudget: c.kvBudget,
                                 tspRate: decimal(c.tspRate), tspLength: c.tspLength,
                                 tspLayer: c.tspLayer == defaultTSPLayer ? nil : c.tspLayer,
                                 windowSize: c.windowSize, kernelSize: c.kernelSize,
                                 pooling: c.pooling == .max ? .max : .avg)
    }

    /// The Double the user typed, recovered from its Float32 (shortest round-trip spelling).
    static func decimal(_ f: Float) -> Double { Double("\(f)") ?? Double(f) }

    public static func methodName(_ m: CompressionMethod) -> String {
        switch m {
        case .full: "full"
        case .fastKV: "fastkv"
        case .snapKV: "snapkv"
        case .streamingLLM: "streamingllm"
        case .gemFilter: "gemfilter"
        }
    }

    public static func finishReason(_ r: StopReason) -> FinishReason {
        switch r {
        case .endOfSequence: .endOfSequence
        case .stopString: .stopString
        case .maxTokens: .maxTokens
        }
    }
}
