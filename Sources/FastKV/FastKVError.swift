import RequestVocabulary

/// What the FastKV module refuses.
public enum FastKVError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A method that changes the prefill forward (FastKV's TSP, GemFilter) cannot share a full prefill.
    case changesPrefill(CompressionMethod)
    /// A policy run in a shared prefill dropped tokens or stopped the pass at `layer`.
    case policyChangedForward(CompressionMethod, layer: Int)

    public var description: String {
        switch self {
        case let .changesPrefill(m): "\(m.rawValue) changes the prefill forward pass and needs its own prefill"
        case let .policyChangedForward(m, layer):
            "\(m.rawValue) dropped tokens from the forward pass at layer \(layer), so it cannot share a full prefill"
        }
    }
}
