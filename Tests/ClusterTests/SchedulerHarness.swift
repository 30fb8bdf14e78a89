import Cluster
import RequestVocabulary
import Wire

/// A `Scheduler` with a hand-moved clock and a few workers, for tests of its rules without any
/// process or socket. Every call returns the decisions it produced, and the harness keeps them all
/// (`history`), so a test can look at one event's effect or at everything so far.
struct SchedulerHarness {
    var scheduler: Scheduler
    var now = SchedulerTime(unixMicros: 1_700_000_000_000_000, monotonic: .seconds(100))
    private(set) var history: [SchedulerDecision] = []

    static let client = PeerAddress("client-1")
    static let otherClient = PeerAddress("client-2")

    init(_ configure: (inout Scheduler.Configuration) -> Void = { _ in }) {
        var c = Scheduler.Configuration()
        c.pauseThreshold = nil   // the tests move the clock in big steps between ticks
        c.maxAssignmentsPerPrefillWorker = 1000   // SchedulerAdmissionTests test the bound itself
        configure(&c)
        scheduler = Scheduler(configuration: c)
    }

    static func address(of worker: UInt64) -> PeerAddress { PeerAddress("worker-\(worker)") }

    @discardableResult
    mutating func send(_ event: SchedulerEvent) -> [SchedulerDecision] {
        let out = scheduler.handle(event, at: now)
        history += out
        return out
    }

    mutating func advance(_ d: Duration) { now = now.advanced(by: d) }

    // MARK: workers

    @discardableResult
    mutating func registerPrefill(_ id: UInt64) -> [SchedulerDecision] {
        send(.register(Self.registration(id, role: .prefill, capacity: 0), from: Self.address(of: id)))
    }

    @discardableResult
    mutating func registerDecode(_ id: UInt64, capacity: Int = 1 << 30, kvBytesPerElement: Int = 4) -> [SchedulerDecision] {
        send(.register(Self.registration(id, role: .decode, capacity: capacity, kvBytesPerElement: kvBytesPerElement),
                       from: Self.address(of: id)))
    }

    static func registration(_ id: UInt64, role: Role, capacity: Int, kvBytesPerElement: Int = 4) -> Register {
        Register(workerID: id, role: role, controlEndpoint: "tcp://127.0.0.1:\(7000 + id)",
                 kvEndpoint: role == .decode ? "tcp://127.0.0.1:\(8000 + id)" : "",
                 model: ModelShape(fingerprint: [1, 2, 3], layerCount: 2, kvHeads: 1, headDim: 4),
                 kvCapacityBytes: capacity, maxSequences: 8, softwareVersion: "test", kvBytesPerElement: kvBytesPerElement)
    }

    @discardableResult
    mutating func heartbeat(_ id: UInt64, queuedTokens: Int = 0, freeKV: Int = 1 << 30, health: Health = .ok)
        -> [SchedulerDecision] {
        send(.heartbeat(Heartbeat(workerID: id, sequence: 1, health: health, queuedPromptTokens: queuedTokens,
                                  freeKVBytes: freeKV, activeSequences: 0, sentUnixMicros: now.unixMicros), from: id))
    }

    // MARK: requests

    @discardableResult
    mutating func submit(_ id: UInt64, tokens: Int = 10, reservedKVBytes: Int = 1000, timeout: Duration = .seconds(30),
                         stream: Bool = false, client: PeerAddress = client) -> [SchedulerDecision] {
        send(.submit(Self.submission(id, tokens: tokens, reservedKVBytes: reservedKVBytes, timeout: timeout,
                                     stream: stream, client: client)))
    }

    static let sampling = try! SamplingParameters(maxTokens: 4)

    /// The only place the tests name the sampling and compression types: the scheduler carries
    /// them opaquely inside the Assignment template.
    static func submission(_ id: UInt64, tokens: Int, reservedKVBytes: Int, timeout: Duration, stream: Bool,
                           client: PeerAddress) -> SchedulerSubmission {
        let work = Assignment(requestID: id, tokenIDs: (0..<tokens).map { Int32($0) }, sampling: Self.sampling,
                              compression: .full, wireDType: .f16, decodeWorkerID: 0, decodeKVEndpoint: "",
                              deadlineUnixMillis: nil)
        return SchedulerSubmission(client: client, work: work, reservedKVBytes: reservedKVBytes, timeout: timeout,
                                   stream: stream, summary: "full")
    }

    @discardableResult
    mutating func chunk(_ id: UInt64, from worker: UInt64, index: Int, tokens: [Int32]) -> [SchedulerDecision] {
        send(.tokenChunk(TokenChunk(requestID: id, index: index, tokenIDs: tokens, text: ""), from: worker))
    }

    @discardableResult
    mutating func result(_ id: UInt64, from worker: UInt64) -> [SchedulerDecision] {
        send(.result(RequestResult(requestID: id, text: "", tokenIDs: [1, 2], finishReason: .maxTokens,
                                   promptTokenCount: 10, timings: Timings(timeToFirstToken: .zero, prefill: .zero,
                                                                          transfer: .zero, decodeTokensPerSecond: 0),
                                   wireBytes: 0, fullKVWireBytes: 0, prefillWorkerID: 0, decodeWorkerID: worker),
                     from: worker))
    }

    @discardableResult
    mutating func error(_ id: UInt64, _ code: ErrorCode, from worker: UInt64, attempt: Int? = nil) -> [SchedulerDecision] {
        send(.workerError(ErrorReport(requestID: id, code: code, message: "\(code) from \(worker)", workerID: worker),
                          from: worker, attempt: attempt))
    }

    func placement(of id: UInt64) -> Placement? { scheduler.phase(of: id)?.placement }
}

/// One assignment decision, flattened for `#expect`.
struct Assigned: Equatable, CustomStringConvertible {
    let request: UInt64
    let prefill: UInt64
    let decode: UInt64
    let attempt: Int
    var description: String { "request \(request) attempt \(attempt): \(prefill) → \(decode)" }
}

extension Array where Element == SchedulerDecision {
    var assignments: [Assigned] {
        compactMap {
            guard case .assign(let a, let prefill, _) = $0 else { return nil }
            return Assigned(request: a.requestID, prefill: prefill, decode: a.decodeWorkerID, attempt: a.attempt)
        }
    }

    var assignmentMessages: [Assignment] {
        compactMap { if case .assign(let a, _, _) = $0 { a } else { nil } }
    }

    var assignmentAddresses: [PeerAddress] {
        compactMap { if case .assign(_, _, let address) = $0 { address } else { nil } }
    }

    /// (request, worker) of every Cancel sent to a worker.
    var cancels: [[UInt64]] {
        compactMap { if case .cancel(let c, let w, _) = $0 { [c.requestID, w] } else { nil } }
    }

    var replies: [(SchedulerDecision.Reply, PeerAddress)] {
        compactMap { if case .reply(let r, let to) = $0 { (r, to) } else { nil } }
    }

    var errorReplies: [ErrorReport] {
        replies.compactMap { if case .error(let e) = $0.0 { e } else { nil } }
    }

    var chunkReplies: [TokenChunk] {
        replies.compactMap { if case .tokenChunk(let c) = $0.0 { c } else { nil } }
    }

    var results: [RequestResult] {
        replies.compactMap { if case .result(let r) = $0.0 { r } else { nil } }
    }

    var droppedWorkers: [UInt64] {
        compactMap { if case .dropWorker(let id, _) = $0 { id } else { nil } }
    }
}
