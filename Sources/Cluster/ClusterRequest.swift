import RequestVocabulary
import Wire

/// One request as a client states it, in the request vocabulary: what `fastkv submit` and the HTTP
/// API build, and what `ClusterClient` turns into a wire `Submit`. nil knobs take the coordinator's
/// defaults.
public struct ClusterRequest: Sendable, Hashable {
    public enum Prompt: Sendable, Hashable {
        /// Tokenized by the coordinator (workers only ever see token ids).
        case text(String)
        case tokenIDs([Int32])
    }

    public var prompt: Prompt
    /// Apply the model's chat template to a `.text` prompt.
    public var chat: Bool
    public var sampling: SamplingParameters?
    public var compression: CompressionConfig?
    public var wireDType: WireDType?
    /// The cluster's deadline, relative to arrival at the coordinator.
    public var timeout: Duration?
    /// Stream tokens while decoding.
    public var stream: Bool

    public init(prompt: Prompt, chat: Bool = false, sampling: SamplingParameters? = nil,
                compression: CompressionConfig? = nil, wireDType: WireDType? = nil, timeout: Duration? = nil,
                stream: Bool = true) {
        self.prompt = prompt
        self.chat = chat
        self.sampling = sampling
        self.compression = compression
        self.wireDType = wireDType
        self.timeout = timeout
        self.stream = stream
    }

    /// The wire message for this request under `requestID`.
    func submit(requestID: UInt64) -> Submit {
        let wirePrompt: Wire.Prompt = switch prompt {
        case .text(let t): .text(t)
        case .tokenIDs(let ids): .tokenIDs(ids)
        }
        return Submit(requestID: requestID, prompt: wirePrompt, chat: chat, sampling: sampling,
                      compression: compression, wireDType: wireDType, timeout: timeout, stream: stream)
    }
}

/// Tokens streamed back while a request decodes.
public struct StreamedTokens: Sendable, Hashable {
    /// Index of `tokenIDs[0]` among the generated tokens.
    public var index: Int
    public var tokenIDs: [Int32]
    /// UTF-8 text completed by these tokens (may be empty mid-character).
    public var text: String
}
