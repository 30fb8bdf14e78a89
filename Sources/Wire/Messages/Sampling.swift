/// How the decode worker picks tokens. Travels in `Submit`, `Assignment` and `KVBegin` so the decode
/// worker needs no side channel to the client.
public struct Sampling: Sendable, Hashable {
    /// Tokens to generate after the prompt (the first comes from the prefill worker).
    public var maxTokens: Int
    /// 0 = greedy.
    public var temperature: Float
    /// nil = no top-k cut.
    public var topK: Int?
    /// nil = no nucleus cut. In (0, 1].
    public var topP: Float?
    /// nil = seeded from entropy (not reproducible).
    public var seed: UInt64?
    /// Stop strings, matched on the decoded text.
    public var stop: [String]

    public init(maxTokens: Int = 128, temperature: Float = 0, topK: Int? = nil, topP: Float? = nil,
                seed: UInt64? = nil, stop: [String] = []) {
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
        self.stop = stop
    }
}
