import RequestVocabulary
import Engine
import FastKV
import Foundation
import Transport
import Wire

/// The coordinator: membership (Register, heartbeats, 3 s silence = lost), tokenization (workers
/// only see token ids), routing, and every request's lifecycle from Submit to a Result or an error.
/// One thread, one ROUTER socket for clients and workers alike. It never touches KV: prefill
/// workers push KV straight to decode workers; tokens come back through here to the client.
public final class Coordinator {
    public struct Configuration: Sendable {
        public var listen = "tcp://127.0.0.1:5555"
        public var heartbeatInterval: Duration = .milliseconds(500)
        /// A worker silent for this long is dropped and its requests re-placed.
        public var workerTimeout: Duration = .seconds(3)
        public var defaultTimeout: Duration = .seconds(120)
        /// Placements per request: the first try plus retries after a lost or busy worker.
        public var maxAttempts = 3
        public init() {}
    }

    public let loaded: LoadedModel
    public let configuration: Configuration
    let shape: ModelShape
    let log = Log(role: "coordinator")
    private var registry = WorkerRegistry()
    private var requests: [UInt64: CoordinatorRequest] = [:]
    private let clock = ContinuousClock()
    private var socket: ZMQSocket!

    public init(loaded: LoadedModel, configuration: Configuration) {
        self.loaded = loaded
        self.configuration = configuration
        shape = WorkerIdentity.shape(of: loaded)
    }

    /// Binds and serves until `stop` fires. Returns the bound endpoint through `onBound`.
    public func run(stop: StopSignal, onBound: (String) -> Void = { _ in }) throws {
        let context = try ZMQContext()
        var options = SocketOptions()
        options.receiveHighWaterMark = 1000
        options.sendHighWaterMark = 1000
        socket = try context.socket(.router, options: options)
        let endpoint = try socket.bind(configuration.listen)
        onBound(endpoint)
        log("listening on \(endpoint); model \(loaded.path.lastPathComponent) (\(loaded.fingerprint))")
        while !stop.isStopped {
            switch try ZMQPoller([socket]).poll(timeout: .milliseconds(50), stop: stop) {
            case .stopped: return
            case .timedOut: break
            case .ready:
                var n = 0
                while n < 256, let m = try socket.receiveIfAvailable() {
                    handle(m)
                    n += 1
                }
            }
            dropSilentWorkers()
            expireDeadlines()
            dispatchWaiting()
        }
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
        if let worker = registry.worker(routedAs: peer) {
            handleWorker(message, from: worker)
            return
        }
        switch message {
        case .register(let r): register(r, from: peer)
        case .submit(let s): submit(s, from: peer)
        case .statusQuery:
            send(.statusReply(StatusReply(workers: registry.status(), sentUnixMicros: UnixTime.nowMicros())), to: peer)
        case .cancel(let c):
            if let r = requests[c.requestID], r.client == peer {
                fail(c.requestID, ErrorReport(requestID: c.requestID, code: .cancelled, message: "cancelled by the client: \(c.reason)"))
            }
        case .heartbeat:
            send(.error(ErrorReport(requestID: nil, code: .workerLost, message: "unknown worker: register again")), to: peer)
        default:
            log("rejected \(message.kind) from unregistered peer \(peer)")
            send(.error(ErrorReport(requestID: message.requestID, code: .badRequest,
                                    message: "\(message.kind) is not accepted from this peer")), to: peer)
        }
    }

    private func register(_ r: Register, from peer: RoutingID) {
        guard r.role == .prefill || r.role == .decode else {
            send(.error(ErrorReport(requestID: nil, code: .badRequest, message: "only prefill and decode workers register")), to: peer)
            return
        }
        if let mismatch = shape.mismatch(with: r.model) {
            log("refused worker \(r.workerID): \(mismatch)")
            send(.error(ErrorReport(requestID: nil, code: .modelMismatch, message: "\(mismatch)")), to: peer)
            return
        }
        if registry[r.workerID] != nil { registry.remove(r.workerID) }
        registry.add(WorkerEntry(id: r.workerID, role: r.role, routingID: peer, controlEndpoint: r.controlEndpoint,
                                 kvEndpoint: r.kvEndpoint, shape: r.model, kvCapacityBytes: r.kvCapacityBytes,
                                 lastHeartbeat: clock.now, freeKVBytes: r.kvCapacityBytes))
        log("registered \(r.role == .prefill ? "prefill" : "decode") worker \(r.workerID) \(r.kvEndpoint)")
        send(.registerAck(RegisterAck(workerID: r.workerID, heartbeatInterval: configuration.heartbeatInterval,
                                      heartbeatMissesAllowed: 6)), to: peer)
    }

    private func handleWorker(_ message: Message, from worker: WorkerEntry) {
        switch message {
        case .register(let r): register(r, from: worker.routingID)
        case .heartbeat(let h):
            registry[worker.id]?.lastHeartbeat = clock.now
            registry[worker.id]?.queuedPromptTokens = h.queuedPromptTokens
            registry[worker.id]?.freeKVBytes = h.freeKVBytes
            registry[worker.id]?.activeSequences = h.activeSequences
            registry[worker.id]?.health = h.health == .lost ? .degraded : h.health
        case .tokenChunk(let chunk): tokenChunk(chunk, from: worker)
        case .result(let result): finish(result, from: worker)
        case .error(let e): workerError(e, from: worker)
        default:
            log("ignored \(message.kind) from worker \(worker.id)")
        }
    }

    private func submit(_ s: Submit, from client: RoutingID) {
        func reject(_ code: ErrorCode, _ text: String) {
            log("request \(s.requestID): rejected: \(text)")
            send(.error(ErrorReport(requestID: s.requestID, code: code, message: text)), to: client)
        }
        guard requests[s.requestID] == nil else { return reject(.badRequest, "request id \(s.requestID) is already active") }
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
        let now = UnixTime.nowMicros()
        let timeout = s.request.timeout ?? configuration.defaultTimeout
        let timeoutMillis = UInt64(max(0, timeout.wholeMilliseconds))
        let request = CoordinatorRequest(
            id: s.requestID, client: client, tokenIDs: ids, sampling: sampling, compression: compression,
            wireDType: s.request.wireDType ?? .f16, stream: s.request.stream, deadlineUnixMillis: now / 1000 + timeoutMillis,
            receivedUnixMicros: now, phase: .waiting(since: now))
        requests[s.requestID] = request
        log("request \(s.requestID): \(ids.count) prompt tokens, \(compression.method.rawValue), timeout \(timeoutMillis) ms")
        place(s.requestID)
    }

    // MARK: placement

    /// Picks a pair for the request and sends the prefill worker its Assignment; leaves the request
    /// waiting when no pair is available.
    private func place(_ id: UInt64) {
        guard var r = requests[id] else { return }
        guard r.attempts < configuration.maxAttempts else {
            return fail(id, ErrorReport(requestID: id, code: .workerLost,
                                        message: "gave up after \(r.attempts) attempts (\(r.excludedPrefill.count) prefill and \(r.excludedDecode.count) decode workers failed)"))
        }
        var pendingTokens: [UInt64: Int] = [:], pendingBytes: [UInt64: Int] = [:]
        for other in requests.values {
            if case .prefilling(let p) = other.phase {
                pendingTokens[p.prefill, default: 0] += other.tokenIDs.count
                pendingBytes[p.decode, default: 0] += estimatedBytes(other)
            }
        }
        guard let prefill = registry.pickPrefill(excluding: r.excludedPrefill, pendingTokens: pendingTokens),
              let decode = registry.pickDecode(excluding: r.excludedDecode, pendingBytes: pendingBytes) else {
            if case .waiting = r.phase {} else { r.phase = .waiting(since: UnixTime.nowMicros()) }
            requests[id] = r
            return
        }
        let placement = Placement(prefill: prefill.id, decode: decode.id, attempt: r.attempts)
        r.attempts += 1
        r.phase = .prefilling(placement)
        r.assignedUnixMicros = UnixTime.nowMicros()
        requests[id] = r
        let assignment = Assignment(requestID: id, tokenIDs: r.tokenIDs, sampling: r.sampling, compression: r.compression,
                                    wireDType: r.wireDType, decodeWorkerID: decode.id, decodeKVEndpoint: decode.kvEndpoint,
                                    deadlineUnixMillis: r.deadlineUnixMillis, stream: true, attempt: placement.attempt)
        log("request \(id): attempt \(placement.attempt) on prefill \(prefill.id) → decode \(decode.id)")
        if !send(.assignment(assignment), to: prefill.routingID) {
            workerLost(prefill.id, reason: "unreachable")
        }
    }

    /// The f32 bytes the decode worker will reserve, from the same plan the prefill worker announces.
    private func estimatedBytes(_ r: CoordinatorRequest) -> Int {
        let counts = KVPlan.entryCounts(config: r.compression, promptLength: r.tokenIDs.count,
                                        layerCount: shape.layerCount)
        return KVPlan.installBytes(entryCounts: counts, decodeSteps: r.sampling.maxTokens, kvHeads: shape.kvHeads,
                                   headDim: shape.headDim)
    }

    private func dispatchWaiting() {
        let waiting = requests.values.filter { if case .waiting = $0.phase { true } else { false } }
            .sorted { $0.receivedUnixMicros < $1.receivedUnixMicros }
        for r in waiting { place(r.id) }
    }

    // MARK: results and failures

    private func tokenChunk(_ chunk: TokenChunk, from worker: WorkerEntry) {
        guard var r = requests[chunk.requestID], let p = r.phase.placement, p.decode == worker.id else { return }
        if case .prefilling = r.phase { r.phase = .decoding(p, forwarded: 0) }
        let end = chunk.index + chunk.tokenIDs.count
        if end > r.forwardedTokens {
            if r.firstTokenUnixMicros == nil { r.firstTokenUnixMicros = UnixTime.nowMicros() }
            if r.stream, chunk.index >= r.forwardedTokens {
                if !send(.tokenChunk(chunk), to: r.client) {
                    requests[chunk.requestID] = r
                    return fail(r.id, ErrorReport(requestID: r.id, code: .cancelled, message: "client went away"), tellClient: false)
                }
            }
            r.forwardedTokens = end
        }
        r.phase = .decoding(p, forwarded: r.forwardedTokens)
        requests[chunk.requestID] = r
    }

    private func finish(_ result: RequestResult, from worker: WorkerEntry) {
        guard let r = requests[result.requestID], let p = r.phase.placement, p.decode == worker.id else { return }
        var out = result
        out.timings.stages.receivedUnixMicros = r.receivedUnixMicros
        out.timings.stages.assignedUnixMicros = r.assignedUnixMicros
        if let first = r.firstTokenUnixMicros {
            out.timings.timeToFirstToken = .microseconds(Int64(first - r.receivedUnixMicros))
        }
        requests.removeValue(forKey: result.requestID)
        log("request \(r.id): done, \(result.tokenIDs.count) tokens, \(result.wireBytes) wire bytes (full KV \(result.fullKVWireBytes)), prefill \(p.prefill) decode \(p.decode)")
        send(.result(out), to: r.client)
    }

    private func workerError(_ e: ErrorReport, from worker: WorkerEntry) {
        guard let id = e.requestID else {
            log("worker \(worker.id): \(e.code.label): \(e.message)")
            return
        }
        guard var r = requests[id], let p = r.phase.placement, p.prefill == worker.id || p.decode == worker.id else {
            log("request \(id): ignored a stale \(e.code.label) from worker \(worker.id): \(e.message)")
            return
        }
        log("request \(id): \(e.code.label) from worker \(worker.id): \(e.message)")
        let retryable: Bool
        switch e.code {
        case .busy:
            r.excludedDecode.insert(p.decode)
            retryable = true
        case .workerLost:
            // A prefill worker could not reach the decode worker, or a decode worker saw the transfer stall.
            if worker.id == p.prefill { r.excludedDecode.insert(p.decode) } else { r.excludedPrefill.insert(p.prefill) }
            retryable = true
        default:
            retryable = false
        }
        if retryable && r.attempts < configuration.maxAttempts && r.forwardedTokens == 0 {
            cancelOnWorkers(p, requestID: id, reason: "retrying after \(e.code.label)")
            r.phase = .waiting(since: UnixTime.nowMicros())
            requests[id] = r
            place(id)
            if let again = requests[id], case .waiting = again.phase, e.code == .busy,
               registry.pickDecode(excluding: again.excludedDecode, pendingBytes: [:]) == nil {
                fail(id, ErrorReport(requestID: id, code: .busy, message: e.message, workerID: e.workerID))
            }
        } else {
            fail(id, e)
        }
    }

    /// Answers the client with `error`, tells the workers to drop the request, forgets it.
    private func fail(_ id: UInt64, _ error: ErrorReport, tellClient: Bool = true) {
        guard let r = requests.removeValue(forKey: id) else { return }
        var error = error
        if error.code != .deadlineExceeded && error.code != .cancelled && UnixTime.nowMillis() > r.deadlineUnixMillis {
            // The deadline is what the client asked about; the proximate cause goes in the message.
            error = ErrorReport(requestID: id, code: .deadlineExceeded,
                                message: "deadline of \(r.deadlineUnixMillis - r.receivedUnixMicros / 1000) ms passed (last failure: \(error.code.label): \(error.message))",
                                workerID: error.workerID)
        }
        if let p = r.phase.placement { cancelOnWorkers(p, requestID: id, reason: error.code.label) }
        log("request \(id): failed: \(error.code.label): \(error.message)")
        if tellClient { send(.error(error), to: r.client) }
    }

    private func cancelOnWorkers(_ p: Placement, requestID: UInt64, reason: String) {
        for w in [p.prefill, p.decode] {
            if let entry = registry[w] { send(.cancel(Cancel(requestID: requestID, reason: reason)), to: entry.routingID) }
        }
    }

    private func expireDeadlines() {
        let now = UnixTime.nowMillis()
        for r in requests.values where now > r.deadlineUnixMillis {
            fail(r.id, ErrorReport(requestID: r.id, code: .deadlineExceeded,
                                   message: "deadline of \(r.deadlineUnixMillis - r.receivedUnixMicros / 1000) ms passed while \(r.phase.label)"))
        }
    }

    private func dropSilentWorkers() {
        for id in registry.silent(longerThan: configuration.workerTimeout) {
            workerLost(id, reason: "no heartbeat for \(configuration.workerTimeout)")
        }
    }

    /// Drops a worker and re-places every request it was serving: a lost prefill worker's request is
    /// retried on another prefill worker (the decode worker discards the old attempt's partial KV
    /// when the new attempt's KVBegin arrives); a lost decode worker's request is prefilled again
    /// on another pair.
    private func workerLost(_ workerID: UInt64, reason: String) {
        guard let w = registry.remove(workerID) else { return }
        log("worker \(workerID) lost: \(reason)")
        for r in requests.values {
            guard let p = r.phase.placement, p.prefill == workerID || p.decode == workerID else { continue }
            var updated = r
            if p.decode == workerID {
                updated.excludedDecode.insert(workerID)
                if let prefill = registry[p.prefill], case .prefilling = r.phase {
                    send(.cancel(Cancel(requestID: r.id, reason: "decode worker lost")), to: prefill.routingID)
                }
            } else {
                updated.excludedPrefill.insert(workerID)
                if case .decoding = r.phase { continue }   // the KV already arrived; decoding goes on
            }
            updated.phase = .waiting(since: UnixTime.nowMicros())
            requests[r.id] = updated
            log("request \(r.id): re-placing after losing \(w.role == .prefill ? "prefill" : "decode") worker \(workerID)")
            place(r.id)
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
