import RequestVocabulary
import Tokenization

/// Per-sequence generation state shared by the single-process generator and the batched decode
/// worker: sampling, stop conditions and streaming-safe text. Feed it each chosen token.
public struct SequenceDecoder: Sendable {
    public private(set) var tokens: [Int32] = []
    public private(set) var text = ""
    public private(set) var finishReason: FinishReason?
    private var sampler: Sampler
    private var detokenizer: StreamingDetokenizer
    private var matcher: StopMatcher
    private let stopIds: Set<Int32>
    private let parameters: SamplingParameters

    public init(tokenizer: Tokenizer, parameters: SamplingParameters) {
        self.parameters = parameters
        sampler = Sampler(parameters)
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecial: true)
        matcher = StopMatcher(stopStrings: parameters.stopStrings)
        stopIds = parameters.stopAtEOS ? tokenizer.stopTokenIds : []
    }

    public var isFinished: Bool { finishReason != nil }

    /// Chooses the next token from logits (does not accept it).
    public mutating func sample(_ logits: [Float]) -> Int32 { sampler.next(logits) }

    /// Records a generated token; returns the text that became safe to show.
    public mutating func accept(_ token: Int32) -> String {
        guard finishReason == nil else { return "" }
        tokens.append(token)
        var out = ""
        if stopIds.contains(token) {
            finishReason = .endOfSequence
            out = matcher.push(detokenizer.finish()) + matcher.finish()
        } else {
            out = matcher.push(detokenizer.append(token))
            if matcher.stopped {
                finishReason = .stopString
            } else if tokens.count >= parameters.maxTokens {
                finishReason = .maxTokens
                out += matcher.push(detokenizer.finish()) + matcher.finish()
            }
        }
        text += out
        return out
    }
}
