/// Errors of the engine layer (loading, request validation, generation).
public enum EngineError: Error, CustomStringConvertible, Equatable {
    case invalidRequest(String)
    case modelLoad(path: String, reason: String)
    case noChatTemplate(path: String)

    public var description: String {
        switch self {
        case let .invalidRequest(m): return "invalid request: \(m)"
        case let .modelLoad(path, reason): return "\(path): \(reason)"
        case let .noChatTemplate(path):
            return "\(path): the model has no chat template this engine understands (ChatML or Llama-3); drop --chat"
        }
    }
}
