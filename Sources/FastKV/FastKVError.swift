import RequestVocabulary

/// What the FastKV module refuses.
public enum FastKVError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A method whose prefill is not one forward pass (GemFilter's two) cannot share a prefill.
    case changesPrefill(CompressionMethod)
    /// Two policies of a shared prefill chose different forwards (tokens propagated, or a stop) at `layer`.
    case policiesDisagree(CompressionMethod, CompressionMethod, layer: Int)

    public var description: String {
        switch self {
        case let .changesPrefill(m): "\(m.rawValue) runs more than one forward pass and needs its own prefill"
        case let .policiesDisagree(a, b, layer):
            "\(a.rawValue) and \(b.rawValue) propagate different tokens at layer \(layer), so they cannot share a prefill"
        }
    }
}
