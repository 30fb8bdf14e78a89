/// One generation request as a client states it: what `fastkv submit` and the HTTP API build, and
/// what the wire's `Submit` carries to the coordinator. nil knobs take the coordinator's defaults.
public struct GenerationRequest: Sendable, Hashable {
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
    /// The cluster's deadline, relative to arrival at the coordinator (the client's clock need not
    /// agree with the cluster's); whole milliseconds on the wire.
    public var timeout: Duration?
    /// Stream tokens while decoding.
    public var stream: Bool

    public init(prompt: Prompt, chat: Bool = false, sampling: SamplingParameters? = nil,
                compression: CompressionConfig? = nil, wireDType: WireDType? = nil, timeout: Duration? = nil,
                stream: Bool = false) {
        self.prompt = prompt
        self.chat = chat
        self.sampling = sampling
        self.compression = compression
        self.wireDType = wireDType
        self.timeout = timeout
        self.stream = stream
    }
}
