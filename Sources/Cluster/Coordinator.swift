import RequestVocabulary
import Engine
import FastKV
import Foundation
import Transport
import Wire

/// The coordinator process: one thread, one ROUTER socket for clients and workers alike, around a
/// `Scheduler` that makes every decision. The loop receives, decodes, parses a Submit at the edge
/// (tokenization: workers only see token ids; knob validation; the KV the request will reserve),
/// feeds the scheduler, and performs what it decides. It never touches KV: prefill workers push KV
/// straight to decode workers; tokens come back through here to the client.
public final class Coordinator {
    public struct Configuration: Sendable {
        public var listen = "tcp://127.0.0.1:5555"
        public var heartbeatInterval: Duration = .milliseconds(500)
        /// A worker silent for this long is dropped and its requests re-placed.
        public var workerTimeout: Duration = .seconds(3)
        public var defaultTimeout: Duration = .seconds(120)
        /// Placements per request: the first try plus retries after a lost or busy worker.
        public var maxAttempts = 3
        /// Admission bounds (`Scheduler.Configuration`).
        public var maxWaitingRequests = 256
        public var maxRequests = 1024
        /// CURVE on the ROUTER (every client and worker must hold an authorized key); nil = plain.
        public var curve: CurveCredentials? = nil
        /// Allow a non-loopback `listen` without CURVE (`--insecure`).
        public var insecure = false
        public init() {}

        var scheduler: Scheduler.Configuration {
            var s = Scheduler.Configuration()
            s.workerTimeout = workerTimeout
            s.maxAttempts = maxAttempts
            s.maxWaitingRequests = maxWaitingRequests
            s.maxRequests = maxRequests
            return s
        }
    }

    public let loaded: LoadedModel
    public let configuration: Configuration
    let shape: ModelShape
    let log = Log(role: "coordinator")
    private var scheduler: Scheduler
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    private let startedUnixMicros = UnixTime.nowMicros()
    private var socket: ZMQSocket!

    public init(loaded: LoadedModel, configuration: Configuration) {
        self.loaded = loaded
        self.configuration = configuration
        shape = WorkerIdentity.shape(of: loaded)
        scheduler = Scheduler(configuration: configuration.scheduler)
        started = clock.now
    }

    /// Binds and serves until `stop` fires. Returns the bound endpoint through `onBound`.
    public func run(stop: StopSignal, onBound: (String) -> Void = { _ in }) throws {
        try EndpointExposure.check(configuration.listen, flag: "--listen", curve: configuration.curve != nil,
                                   insecure: configuration.insecure)
        let context = try ZMQContext()
        var options = SocketOptions()
        options.receiveHighWaterMark = 1000
        options.sendHighWaterMark = 1000
        var authenticator: ZAPAuthenticator?
        if let curve = configuration.curve {
            let (auth, security) = try curve.server(context: context, log: log)
            authenticator = auth
            options.curve = security
        }
        defer { authenticator?.stop() }
        socket = try context.socket(.router, options: options)
        let endpoint = try socket.bind(configuration.listen)
        onBound(endpoint)
        log("listening on \(endpoint)\(configuration.curve == nil ? "" : " (CURVE, \(configuration.curve?.authorizedKeys?.entries.count ?? 0) authorized keys)"); model \(loaded.path.lastPathComponent) (\(loaded.fingerprint))")
        defer { shutDown() }
        while !stop.isStopped {
            switch try ZMQPoller([socket]).poll(timeout: .milliseconds(50), stop: stop) {
            case .stopped: return
            case .timedOut: break
            case .ready:
                var n = 0
                while n < 256, let m = try socket.receiveIfAvailable(onDropped: { log("dropped a message: \($0)") }) {
                    handle(m)
                    n += 1
                }
            }
            feed(.tick)
        }
    }

    /// On stop (SIGTERM): every client still waiting is told UNAVAILABLE now rather than at its
    /// deadline, and the workers drop the requests. Workers re-register with the next coordinator.
    private func shutDown() {
        feed(.shutdown(reason: "the coordinator is shutting down"))
        log("stopped")
    }

    // MARK: incoming

    private func handle(_ received: ReceivedMessage) {
        guard let peer = received.peer else { return }
        let message: Message
        do { message = try Message.decode(frame: received.header) } catch {
            log("rejected a malformed message from \(peer) (\(received.byteCount) bytes): \(error)")
            send(.error(ErrorReport(requestID: nil, code: .malformed, message: "\(error)")), to: peer)
            return
        }
        // A worker's messages count as its own only over the key it registered with (CURVE): another
        // key reusing its routing id is treated as the stranger it is.
        let identity = received.peerIdentity?.publicKey
        if let worker = scheduler.worker(at: PeerAddress(peer)), scheduler.identity(ofWorker: worker) == identity {
            handleWorker(message, from: worker, peer: peer, identity: identity)
            return
        }
        switch message {
        case .register(let r): register(r, from: peer, identity: identity)
        case .submit(let s): submit(s, from: peer)
        case .statusQuery(let q):
            send(.statusReply(statusReply(about: q.requestID, from: PeerAddress(peer))), to: peer)
        case .cancel(let c):
            feed(.cancel(requestID: c.requestID, client: PeerAddress(peer), reason: c.reason))
        case .heartbeat:
            send(.error(ErrorReport(requestID: nil, code: .workerLost, message: "unknown worker: register again")), to: peer)
        default:
            log("rejected \(message.kind) from unregistered peer \(peer)")
            send(.error(ErrorReport(requestID: message.requestID, code: .badRequest,
                                    message: "\(message.kind) is not accepted from this peer")), to: peer)
        }
    }

    private func handleWorker(_ message: Message, from worker: UInt64, peer: RoutingID, identity: String?) {
        switch message {
        case .register(let r): register(r, from: peer, identity: identity)
        case .heartbeat(let h): feed(.heartbeat(h, from: worker))
        case .tokenChunk(let chunk): feed(.tokenChunk(chunk, from: worker))
        case .result(let result): feed(.result(result, from: worker))
        case .error(let e): feed(.workerError(e, from: worker, attempt: e.attempt))
        case .deregister(let d) where d.workerID == worker: feed(.deregister(worker, reason: d.reason, drained: d.drained))
        case .statusQuery(let q): send(.statusReply(statusReply(about: q.requestID, from: PeerAddress(peer))), to: peer)
        default:
            log("ignored \(message.kind) from worker \(worker)")
        }
    }

    /// Checks what only the edge can check (the role, the model), then lets the scheduler admit it.
    private func register(_ r: Register, from peer: RoutingID, identity: String?) {
        guard r.role == .prefill || r.role == .decode else {
            send(.error(ErrorReport(requestID: nil, code: .badRequest, message: "only prefill and decode workers register")), to: peer)
            return
        }
        if let mismatch = shape.mismatch(with: r.model) {
            log("refused worker \(r.workerID): \(mismatch)")
            send(.error(ErrorReport(requestID: nil, code: .modelMismatch, message: "\(mismatch)")), to: peer)
            return
        }
        feed(.register(r, from: PeerAddress(peer), identity: identity))
        // The scheduler refuses an id another key owns (and answers the peer itself).
        guard scheduler.worker(at: PeerAddress(peer)) == r.workerID else { return }
        send(.registerAck(RegisterAck(workerID: r.workerID, heartbeatInterval: configuration.heartbeatInterval,
                                      heartbeatMissesAllowed: 6)), to: peer)
    }

    /// Parses a Submit at the edge: tokenizes, resolves and validates the knobs, computes the KV the
    /// request will reserve. What passes goes to the scheduler; what fails is answered here.
    private func submit(_ s: Submit, from client: RoutingID) {
        func reject(_ code: ErrorCode, _ text: String) {
            log("request \(s.requestID): rejected: \(text)")
            send(.error(ErrorReport(requestID: s.requestID, code: code, message: text)), to: client)
        }
        let c = loaded.config
        let ids: [Int32]
        switch s.request.prompt {
        case .text(let text):
            do { ids = try loaded.encodePrompt(text, chat: s.request.chat) } catch { return reject(.badRequest, "\(error)") }
        case .tokenIDs(let given):
            ids = given
        }
        guard !ids.isEmpty else { return reject(.badRequest, "the prompt is empty") }
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= c.vocabularySize }) {
            return reject(.badRequest, "token id \(bad) is outside the vocabulary of \(c.vocabularySize)")
        }
        let sampling = s.request.sampling ?? .greedy
        guard sampling.maxTokens >= 1, ids.count + sampling.maxTokens - 1 <= c.contextLength else {
            return reject(.badRequest, "prompt (\(ids.count) tokens) + max tokens (\(sampling.maxTokens)) exceeds the context of \(c.contextLength)")
        }
        let compression = s.request.compression ?? .full
        do { try compression.validate(layerCount: c.layerCount) } catch {
            return reject(.badRequest, "\(error)")
        }
        // The scheduler fills in the placement (decode worker, attempt), the deadline and streaming.
        let work = Assignment(requestID: s.requestID, tokenIDs: ids, sampling: sampling, compression: compression,
                              wireDType: s.request.wireDType ?? .f16, decodeWorkerID: 0, decodeKVEndpoint: "",
                              deadlineUnixMillis: nil)
        feed(.submit(SchedulerSubmission(
            client: PeerAddress(client), work: work,
            reservedKVBytes: estimatedBytes(compression, promptLength: ids.count, decodeSteps: sampling.maxTokens),
            timeout: s.request.timeout ?? configuration.defaultTimeout, stream: s.request.stream,
            summary: compression.method.rawValue)))
    }

    /// The f32 bytes the decode worker will reserve, from the same plan the prefill worker announces
    /// (placement scales them to each decode worker's KV element size).
    private func estimatedBytes(_ compression: CompressionConfig, promptLength: Int, decodeSteps: Int) -> Int {
        let counts = KVPlan.entryCounts(config: compression, promptLength: promptLength,
                                        layerCount: shape.layerCount, kvHeadCount: shape.kvHeads)
        return KVPlan.installBytes(entryCounts: counts, decodeSteps: decodeSteps, kvHeads: shape.kvHeads,
                                   headDim: shape.headDim)
    }

    /// The worker table and request counts; `about` names a request the asker submitted, whose
    /// being held is reported (`requestKnown`; another client's request reads as unknown).
    private func statusReply(about requestID: UInt64? = nil, from asker: PeerAddress? = nil) -> StatusReply {
        StatusReply(workers: scheduler.workerStatus(at: now()), sentUnixMicros: UnixTime.nowMicros(),
                    waitingRequests: scheduler.waitingCount,
                    runningRequests: scheduler.requestCount - scheduler.waitingCount,
                    coordinatorStartedUnixMicros: startedUnixMicros,
                    requestKnown: requestID.map { scheduler.holds($0, for: asker) } ?? false,
                    queriedRequestID: requestID)
    }

    // MARK: performing decisions

    private func now() -> SchedulerTime {
        SchedulerTime(unixMicros: UnixTime.nowMicros(), monotonic: clock.now - started)
    }

    /// Hands one event to the scheduler and performs its decisions in order. A failed send becomes
    /// the event that says so, handled at once (so the next decision already sees its effect).
    private func feed(_ event: SchedulerEvent) {
        for decision in scheduler.handle(event, at: now()) {
            switch decision {
            case .log(let line):
                log(line)
            case .assign(let assignment, let prefill, let address):
                // An earlier failed send in this chain may have re-placed the request since.
                guard scheduler.phase(of: assignment.requestID)?.placement?.attempt == assignment.attempt else { continue }
                // The decode worker learns who will push this attempt's KV first (KVSenderGate). One
                // that cannot be told is gone: dropping it re-places the request (a new .assign).
                if let decode = scheduler.address(ofWorker: assignment.decodeWorkerID),
                   !send(.kvExpect(KVExpect(requestID: assignment.requestID, attempt: assignment.attempt,
                                            prefillWorkerID: prefill, prefillKey: scheduler.identity(ofWorker: prefill))),
                         to: RoutingID(decode)) {
                    feed(.workerLost(assignment.decodeWorkerID,
                                     reason: "unreachable (the KVExpect for request \(assignment.requestID) attempt \(assignment.attempt) was not delivered)"))
                    continue
                }
                if !send(.assignment(assignment), to: RoutingID(address)) {
                    feed(.assignmentUndeliverable(requestID: assignment.requestID, attempt: assignment.attempt,
                                                  worker: prefill))
                }
            case .cancel(let cancel, _, let address):
                send(.cancel(cancel), to: RoutingID(address))
            case .reply(let reply, let client):
                if !send(reply.message, to: RoutingID(client)), let id = reply.requestID {
                    feed(.clientUnreachable(requestID: id))
                }
            case .dropWorker:
                break   // nothing to send: its next heartbeat is answered "unknown worker: register again"
            }
        }
    }

    /// Sends to a peer; false when it is gone (ROUTER_MANDATORY) or its queue stays full.
    @discardableResult
    private func send(_ message: Message, to peer: RoutingID) -> Bool {
        do {
            try socket.send(header: try message.encoded(), to: peer, timeout: .milliseconds(100))
            return true
        } catch {
            log("could not send \(message.kind) to \(peer): \(error)")
            return false
        }
    }
}

extension PeerAddress {
    init(_ peer: RoutingID) { self.init(peer.bytes) }
}

extension RoutingID {
    init(_ address: PeerAddress) { self.init(address.bytes) }
}
