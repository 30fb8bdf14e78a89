/// Why generation ended. Raw values are the names reports print.
public enum FinishReason: String, Sendable, Hashable, Codable, CaseIterable {
    /// The model emitted an end-of-sequence token.
    case endOfSequence = "eos"
    /// The text reached one of the request's stop strings.
    case stopString = "stop"
    /// `maxTokens` tokens were generated.
    case maxTokens = "length"

    /// OpenAI's `finish_reason`: a natural end (EOS or a stop string) is "stop", a cut is "length".
    public var openAIName: String { self == .maxTokens ? "length" : "stop" }
}
