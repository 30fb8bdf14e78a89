import RequestVocabulary
import Wire

/// The coordinator's rules, without the coordinator's socket: where each request runs, what
/// happens when a worker fails, is busy or goes silent, when a deadline ends a request, and what
/// the client is told. Events go in (`handle(_:at:)`), decisions come out, in the order they must
/// be performed.
///
/// It is pure in the sense that matters for testing: no sockets, no clock (the caller passes the
/// time with every event), no logging (log lines are decisions), no randomness (ties go to the
/// lower worker id, waiting requests are tried in arrival order). So every rule is a unit test.
/// The split follows nano-vllm's engine, where the scheduler only decides and the engine loop
/// performs; `Coordinator` is that loop here.
///
/// State: the worker table (`WorkerRegistry`), the requests it holds (`ScheduledRequest`, whose
/// `RequestPhase` is the lifecycle), and the `WaitingQueue` of requests without a placement.
/// Invariant: a request is in the waiting queue exactly when its phase is `.waiting`.
public struct Scheduler: Sendable {
    public struct Configuration: Sendable {
        /// A worker silent for this long is dropped and its requests re-placed.
        public var workerTimeout: Duration = .seconds(3)
        /// Placements per request: the first try plus retries after a lost or busy worker.
        public var maxAttempts = 3
        /// Admission bounds: a Submit that finds this many requests waiting, or this many held in
        /// all (waiting and in flight), is answered BUSY at once rather than queued towards its
        /// deadline. Requests re-queued after a failure were admitted already and always go back.
        public var maxWaitingRequests = 256
        public var maxRequests = 1024
        /// Answer BUSY before any compute when the request needs more KV than any registered
        /// decode worker can hold at all (checked at admission and whenever it is about to be
        /// placed): waiting cannot help it.
        public var refuseWhatNoDecodeWorkerCanHold = true
        /// Answer BUSY with a retry-after at admission when the queue ahead of the request would,
        /// at the rate the cluster has been finishing requests while saturated, leave it less than
        /// its expected service time before its deadline (`DrainRate`). Before the rate is known
        /// (fewer than four saturated completions) only the bounds above refuse.
        public var refuseWhatWouldMissItsDeadline = true
        /// Ticks further apart than this mean the coordinator itself was paused (its loop ticks at
        /// least every 50 ms): workers get a fresh heartbeat window instead of being dropped for
        /// the heartbeats it has not read yet. nil turns the rule off (tests that jump the clock).
        public var pauseThreshold: Duration? = .seconds(1)
        /// Assignments a prefill worker holds at once (one computing, the rest queued behind it).
        /// Small, so the backlog waits here, where round robin, admission and deadlines see it,
        /// rather than hidden in a worker's queue; more than one, so the next prompt is already
        /// there when a prefill ends.
        public var maxAssignmentsPerPrefillWorker = 2
        public init() {}
    }

    public let configuration: Configuration
    var registry = WorkerRegistry()
    var requests: [UInt64: ScheduledRequest] = [:]
    var waiting = WaitingQueue()
    var drain = DrainRate()
    private var nextArrival: UInt64 = 0
    /// The monotonic time of the last tick: a gap much longer than the tick interval means the
    /// coordinator itself was paused (SIGSTOP, a stalled host), not that its workers went silent.
    private var lastTick: Duration?
    /// The time of the event being handled.
    var now = SchedulerTime(unixMicros: 0, monotonic: .zero)
    /// What the event being handled has decided so far.
    var decisions: [SchedulerDecision] = []

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Applies one event at `now` and returns what to do, in order.
    public mutating func handle(_ event: SchedulerEvent, at now: SchedulerTime) -> [SchedulerDecision] {
        self.now = now
        decisions = []
        switch event {
        case .submit(let s): submit(s)
        case .register(let r, let address, let identity): register(r, from: address, identity: identity)
        case .heartbeat(let h, let worker): heartbeat(h, from: worker)
        case .workerLost(let worker, let reason): workerLost(worker, reason: reason)
        case .deregister(let worker, let reason, let drained):
            if registry[worker]?.role == .prefill && drained {
                registry.remove(worker)
                log("worker \(worker) left: \(reason)")
                decisions.append(.dropWorker(worker, reason: reason))
            } else if registry[worker] != nil {
                workerLost(worker, reason: "left: \(reason)")
            }
        case .tokenChunk(let chunk, let worker): tokenChunk(chunk, from: worker)
        case .result(let result, let worker): finish(result, from: worker)
        case .workerError(let e, let worker, let attempt): workerError(e, from: worker, attempt: attempt)
        case .cancel(let id, let client, let reason):
            if let r = requests[id], r.client == client {
                fail(id, ErrorReport(requestID: id, code: .cancelled, message: "cancelled by the client: \(reason)"))
            }
        case .assignmentUndeliverable(let id, let attempt, let worker):
            // Dropping the worker re-places every request on it, this attempt's included. If it is
            // gone already, that happened when it was dropped.
            if registry[worker] != nil {
                workerLost(worker, reason: "unreachable (the Assignment for request \(id) attempt \(attempt) was not delivered)")
            }
        case .clientUnreachable(let id):
            fail(id, ErrorReport(requestID: id, code: .cancelled, message: "client went away"), tellClient: false)
        case .shutdown(let reason):
            for r in requests.values.sorted(by: { $0.arrival < $1.arrival }) {
                fail(r.id, ErrorReport(requestID: r.id, code: .unavailable, message: reason))
            }
        case .tick:
            if let last = lastTick, let threshold = configuration.pauseThreshold, now.monotonic - last > threshold {
                // Every heartbeat that arrived meanwhile is still unread: judging the workers by
                // them now would drop them all for the coordinator's own pause.
                log("the coordinator was paused for \((now.monotonic - last).wholeMilliseconds) ms: giving every worker a fresh heartbeat window")
                registry.refreshHeartbeats(at: now.monotonic)
            }
            lastTick = now.monotonic
            dropSilentWorkers()
            expireDeadlines()
            dispatchWaiting()
        }
        let out = decisions
        decisions = []
        return out
    }

    // MARK: queries (for the front end and tests)

    /// The id of the worker registered from `address`, if any.
    public func worker(at address: PeerAddress) -> UInt64? { registry.worker(at: address)?.id }

    /// Where worker `id` is reached, nil when it is not registered.
    public func address(ofWorker id: UInt64) -> PeerAddress? { registry[id]?.address }

    /// The identity (authenticated key) worker `id` registered with; nil without CURVE or when unknown.
    public func identity(ofWorker id: UInt64) -> String? { registry[id]?.identity }

    static func keyLabel(_ identity: String?) -> String {
        identity.map { "key " + $0.prefix(8) + "…" } ?? "no key"
    }

    public func workerStatus(at now: SchedulerTime) -> [WorkerStatus] { registry.status(now: now.monotonic) }

    public func phase(of requestID: UInt64) -> RequestPhase? { requests[requestID]?.phase }

    /// Requests held, waiting or in flight.
    public var requestCount: Int { requests.count }

    /// Whether `requestID` is held and was submitted by `client` (any client when nil).
    public func holds(_ requestID: UInt64, for client: PeerAddress?) -> Bool {
        guard let r = requests[requestID] else { return false }
        return client.map { $0 == r.client } ?? true
    }

    /// Requests admitted and not yet placed.
    public var waitingCount: Int { waiting.count }

    /// The waiting queue, in the order dispatch tries it.
    public var waitingRequestIDs: [UInt64] { waiting.inDispatchOrder }

    // MARK: events

    private mutating func submit(_ s: SchedulerSubmission) {
        let id = s.requestID
        func reject(_ code: ErrorCode, _ text: String) {
            log("request \(id): rejected: \(text)")
            reply(.error(ErrorReport(requestID: id, code: code, message: text)), to: s.client)
        }
        guard requests[id] == nil else { return reject(.badRequest, "request id \(id) is already active") }
        if let refusal = admissionRefusal(s) {
            log("request \(id): refused: \(refusal.message)")
            return reply(.error(refusal), to: s.client)
        }
        let timeoutMillis = UInt64(max(0, s.timeout.wholeMilliseconds))
        let request = ScheduledRequest(
            id: id, client: s.client, work: s.work, reservedKVBytes: s.reservedKVBytes, stream: s.stream,
            deadlineUnixMillis: now.unixMillis + timeoutMillis, receivedUnixMicros: now.unixMicros,
            arrival: nextArrival, phase: .waiting(since: now.unixMicros))
        nextArrival += 1
        requests[id] = request
        waiting.insert(id, arrival: request.arrival, client: request.client)
        let about = ["\(request.promptTokenCount) prompt tokens", s.summary, "timeout \(timeoutMillis) ms"]
        log("request \(id): " + about.filter { !$0.isEmpty }.joined(separator: ", "))
        dispatchWaiting()
    }

    private mutating func register(_ r: Register, from address: PeerAddress, identity: String?) {
        if let live = registry[r.workerID], live.identity != identity {
            let text = "worker id \(r.workerID) is registered by another key (\(Self.keyLabel(live.identity))); refused the registration from \(Self.keyLabel(identity))"
            log(text)
            reply(.error(ErrorReport(requestID: nil, code: .badRequest, message: text)), to: address)
            return
        }
        let entry = WorkerEntry(id: r.workerID, role: r.role, address: address, identity: identity,
                                controlEndpoint: r.controlEndpoint,
                                kvEndpoint: r.kvEndpoint, shape: r.model, kvCapacityBytes: r.kvCapacityBytes,
                                kvBytesPerElement: r.kvBytesPerElement, maxSequences: r.maxSequences, lastHeartbeat: now.monotonic,
                                freeKVBytes: r.kvCapacityBytes)
        registry.add(entry)
        log("registered \(entry.roleLabel) worker \(r.workerID) \(r.kvEndpoint)"
            + (r.role == .decode ? " (\(r.kvCapacityBytes) KV bytes, \(r.kvBytesPerElement) per element)" : ""))
    }

    private mutating func heartbeat(_ h: Heartbeat, from worker: UInt64) {
        guard var w = registry[worker] else { return }
        w.lastHeartbeat = now.monotonic
        w.queuedPromptTokens = h.queuedPromptTokens
        w.freeKVBytes = h.freeKVBytes
        w.activeSequences = h.activeSequences
        // `.lost` is the coordinator's word for a worker; from the worker itself it means unwell.
        w.health = h.health == .lost ? .degraded : h.health
        registry[worker] = w
    }

    /// Forwards new tokens to a streaming client. A retried attempt repeats tokens from index 0;
    /// only those past `forwardedTokens` go out, so the client never sees one twice.
    private mutating func tokenChunk(_ chunk: TokenChunk, from worker: UInt64) {
        guard var r = requests[chunk.requestID], let p = r.phase.placement, p.decode == worker else { return }
        let end = chunk.index + chunk.tokenIDs.count
        if end > r.forwardedTokens {
            if r.firstTokenUnixMicros == nil { r.firstTokenUnixMicros = now.unixMicros }
            if r.stream, chunk.index >= r.forwardedTokens { reply(.tokenChunk(chunk), to: r.client) }
            r.forwardedTokens = end
        }
        r.phase = .decoding(p, forwarded: r.forwardedTokens)
        requests[chunk.requestID] = r
    }

    /// The decode worker of the current placement finished: the client gets the Result with the
    /// coordinator's stages (received, assigned) and TTFT filled in.
    private mutating func finish(_ result: RequestResult, from worker: UInt64) {
        guard let r = requests[result.requestID], let p = r.phase.placement, p.decode == worker else { return }
        var out = result
        out.timings.stages.receivedUnixMicros = r.receivedUnixMicros
        out.timings.stages.assignedUnixMicros = r.assignedUnixMicros
        if let first = r.firstTokenUnixMicros, first >= r.receivedUnixMicros {
            out.timings.timeToFirstToken = .microseconds(Int64(first - r.receivedUnixMicros))
        }
        forget(r.id)
        if let placed = r.assignedUnixMicros, now.unixMicros >= placed {
            drain.record(at: now.monotonic, service: .microseconds(Int64(now.unixMicros - placed)),
                         queueWasBusy: !waiting.isEmpty)
        }
        log("request \(r.id): done, \(result.tokenIDs.count) tokens, \(result.wireBytes) wire bytes (full KV \(result.fullKVWireBytes)), prefill \(p.prefill) decode \(p.decode)")
        reply(.result(out), to: r.client)
    }

    // MARK: helpers

    mutating func log(_ line: String) { decisions.append(.log(line)) }

    mutating func reply(_ reply: SchedulerDecision.Reply, to client: PeerAddress) {
        decisions.append(.reply(reply, to: client))
    }

    /// Drops a request's record and its place in the waiting queue.
    @discardableResult
    mutating func forget(_ id: UInt64) -> ScheduledRequest? {
        waiting.remove(id)
        return requests.removeValue(forKey: id)
    }

    /// Puts a request (back) in the waiting queue at its arrival position.
    mutating func enqueue(_ r: inout ScheduledRequest) {
        if !r.phase.isWaiting { r.phase = .waiting(since: now.unixMicros) }
        requests[r.id] = r
        waiting.insert(r.id, arrival: r.arrival, client: r.client)
    }
}
