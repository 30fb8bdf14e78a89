/// Errors of the engine layer (loading, request validation, generation).
public enum EngineError: Error, CustomStringConvertible, Equatable {
    case invalidRequest(String)
    case modelLoad(path: String, reason: String)
    case noChatTemplate(path: String)
    /// The load's memory plan exceeds what this process may take.
    case insufficientMemory(path: String, plan: MemoryPlan, available: AvailableMemory)

    public var description: String {
        switch self {
        case let .invalidRequest(m): return "invalid request: \(m)"
        case let .modelLoad(path, reason): return "\(path): \(reason)"
        case let .noChatTemplate(path):
            return "\(path): the model has no chat template this engine understands (ChatML or Llama-3); drop --chat"
        case let .insufficientMemory(path, plan, available):
            var hints: [String] = []
            if plan.panelForms.contains("f32") { hints.append("--prefill-weights compact (no f32 copy)") }
            hints.append("a smaller --max-context (now \(plan.contextTokens))")
            if plan.kvBytes > 0 { hints.append("a smaller --max-kv-bytes on decode workers") }
            return "\(path): the model needs \(plan) but only \(available) is available; try "
                + hints.joined(separator: ", ")
        }
    }
}
