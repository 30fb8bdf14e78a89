/// Errors raised while building or running a Llama-family model.
public enum LlamaError: Error, CustomStringConvertible, Equatable {
    case unsupportedArchitecture(file: String, architecture: String)
    case invalidConfig(file: String, reason: String)
    case missingTensor(file: String, name: String)
    case badTensorShape(file: String, name: String, expected: [Int], found: [Int])
    case unsupportedTensorType(file: String, name: String, type: String)
    case emptyPrompt
    case tokenOutOfRange(token: Int32, vocabularySize: Int)
    case contextOverflow(needed: Int, limit: Int)

    public var description: String {
        switch self {
        case let .unsupportedArchitecture(file, arch):
            return "\(file): architecture '\(arch)' is not supported (expected a Llama-family decoder)"
        case let .invalidConfig(file, reason):
            return "\(file): invalid model configuration: \(reason)"
        case let .missingTensor(file, name):
            return "\(file): missing tensor '\(name)'"
        case let .badTensorShape(file, name, expected, found):
            return "\(file): tensor '\(name)' has shape \(found), expected \(expected)"
        case let .unsupportedTensorType(file, name, type):
            return "\(file): tensor '\(name)' has unsupported type \(type) for this use"
        case .emptyPrompt:
            return "the prompt is empty (at least one token is needed)"
        case let .tokenOutOfRange(token, vocab):
            return "token id \(token) is outside the vocabulary (0..<\(vocab))"
        case let .contextOverflow(needed, limit):
            return "the request needs \(needed) positions but the model's context is \(limit)"
        }
    }
}
