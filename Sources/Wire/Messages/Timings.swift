/// Wall-clock boundaries of a request's stages, as Unix microseconds; nil = the stage did not happen
/// (yet). Each process fills the stages it runs; instants from different hosts are only as
/// comparable as the hosts' clocks.
///
/// queueing = assigned − received; prefill compute = prefillEnd − prefillStart;
/// KV encode = kvEncoded − prefillEnd (overlaps with compute when pipelined per layer);
/// wire = kvReceived − kvSent; decode-side install = kvInstalled − kvReceived.
public struct StageTimes: Sendable, Hashable {
    public var receivedUnixMicros: UInt64?
    public var assignedUnixMicros: UInt64?
    public var prefillStartUnixMicros: UInt64?
    public var prefillEndUnixMicros: UInt64?
    public var kvEncodedUnixMicros: UInt64?
    public var kvSentUnixMicros: UInt64?
    public var kvReceivedUnixMicros: UInt64?
    public var kvInstalledUnixMicros: UInt64?
    public var firstTokenUnixMicros: UInt64?
    public var finishedUnixMicros: UInt64?

    public init(receivedUnixMicros: UInt64? = nil, assignedUnixMicros: UInt64? = nil,
                prefillStartUnixMicros: UInt64? = nil, prefillEndUnixMicros: UInt64? = nil,
                kvEncodedUnixMicros: UInt64? = nil, kvSentUnixMicros: UInt64? = nil,
                kvReceivedUnixMicros: UInt64? = nil, kvInstalledUnixMicros: UInt64? = nil,
                firstTokenUnixMicros: UInt64? = nil, finishedUnixMicros: UInt64? = nil) {
        self.receivedUnixMicros = receivedUnixMicros
        self.assignedUnixMicros = assignedUnixMicros
        self.prefillStartUnixMicros = prefillStartUnixMicros
        self.prefillEndUnixMicros = prefillEndUnixMicros
        self.kvEncodedUnixMicros = kvEncodedUnixMicros
        self.kvSentUnixMicros = kvSentUnixMicros
        self.kvReceivedUnixMicros = kvReceivedUnixMicros
        self.kvInstalledUnixMicros = kvInstalledUnixMicros
        self.firstTokenUnixMicros = firstTokenUnixMicros
        self.finishedUnixMicros = finishedUnixMicros
    }
}

/// The headline latencies of a finished request (whole microseconds on the wire).
public struct Timings: Sendable, Hashable {
    /// Submit received → first token available to the client.
    public var timeToFirstToken: Duration
    public var prefill: Duration
    /// KV transfer: first frame sent → last frame received.
    public var transfer: Duration
    public var decodeTokensPerSecond: Double
    public var stages: StageTimes

    public init(timeToFirstToken: Duration, prefill: Duration, transfer: Duration,
                decodeTokensPerSecond: Double, stages: StageTimes = StageTimes()) {
        self.timeToFirstToken = timeToFirstToken
        self.prefill = prefill
        self.transfer = transfer
        self.decodeTokensPerSecond = decodeTokensPerSecond
        self.stages = stages
    }
}
