import RequestVocabulary
import Engine
import FastKV
import Foundation
import Llama
import Transport
import Wire

/// The prefill role: takes token ids from the coordinator, runs (compressed) prefill, and pushes each
/// layer's KV straight to the assigned decode worker the moment the layer is final (pipelined:
/// `CompressedPrefill.run(onLayerStored:)`), then KVEnd with the first token.
///
/// Threads: the I/O thread owns the control socket (assignments in, heartbeats and errors out) so
/// heartbeats keep flowing during a long prefill; the compute thread owns the per-transfer KV
/// sockets and an inproc PAIR back to the I/O thread. Assignments move through a `LockedQueue`.
public final class PrefillWorker: @unchecked Sendable {
    public let loaded: LoadedModel
    public let workerID: UInt64
    public let coordinator: String
    /// CURVE on the control link and on every KV push (to the decode worker's registered key); nil = plain.
    public let curve: CurveCredentials?
    let shape: ModelShape
    let log: Log
    let queue = LockedQueue<Assignment>()
    let attempts = PrefillAttempts()
    let load = WorkerLoad()
    /// Assignments queued beyond this are answered BUSY (the coordinator places them elsewhere).
    public var maxQueuedAssignments = 256
    /// Raised (SIGTERM) to drain: no new work, finish the queue, leave; after `drainTimeout` leave
    /// anyway and let the coordinator re-place the rest (Deregister).
    public let drain = StopSignal()
    public var drainTimeout: Duration = .seconds(30)

    public init(loaded: LoadedModel, coordinator: String, workerID: UInt64? = nil, curve: CurveCredentials? = nil) {
        self.loaded = loaded
        self.curve = curve
        self.coordinator = coordinator
        self.workerID = workerID ?? WorkerIdentity.newWorkerID()
        shape = WorkerIdentity.shape(of: loaded)
        log = Log(role: "prefill[\(self.workerID)]")
    }

    /// Serves until `stop` fires.
    public func run(stop: StopSignal) throws {
        let context = try ZMQContext()
        let outEndpoint = "inproc://prefill-out-\(workerID)"
        let fromCompute = try context.socket(.pair)
        try fromCompute.bind(outEndpoint)
        let link = try ControlLink(
            context: context, coordinator: coordinator,
            registration: Register(workerID: workerID, role: .prefill, controlEndpoint: "pid \(getpid())",
                                   model: shape, kvCapacityBytes: 0, maxSequences: 1,
                                   softwareVersion: "fastkv-cluster/1"), curve: curve, log: log)
        // See DecodeWorker.run: a compute thread that ends by itself makes the worker unhealthy.
        let computeStop = StopSignal()
        let computeEnded = StopSignal()
        let computeThread = Thread { [self] in
            computeLoop(context: context, outEndpoint: outEndpoint, stop: computeStop)
            computeEnded.stop()
        }
        computeThread.stackSize = 16 << 20
        computeThread.start()
        // On the way out the compute thread ends first (bounded), so every socket is released when
        // this returns and the context's termination flushes what is queued (Deregister above all)
        // within the sockets' linger, before the process exits.
        defer { computeStop.stop(); computeEnded.wait(upTo: .seconds(3)) }
        log("serving; coordinator \(coordinator)")
        let poller = ZMQPoller([link.socket, fromCompute])
        var lifecycle = WorkerLifecycle(drain: drain, drainTimeout: drainTimeout, computeEnded: computeEnded, log: log)
        while !stop.isStopped {
            // Idle once the assignment being computed is done too (its tokens leave the queued count then).
            if let leaving = lifecycle.step(link: link, idle: queue.count == 0 && load.queuedPromptTokens == 0,
                                            held: { "\(queue.count) assignments queued, \(load.queuedPromptTokens) prompt tokens" }) {
                attempts.cancelAll(reason: "worker leaving")
                try? link.forwardAll(from: fromCompute)
                link.send(.deregister(Deregister(workerID: workerID, reason: leaving.reason, drained: leaving.drained)),
                          timeout: .milliseconds(500))
                log("leaving: \(leaving.reason)")
                return
            }
            link.tick(health: lifecycle.health, queuedPromptTokens: load.queuedPromptTokens, freeKVBytes: 0,
                      activeSequences: queue.count)
            if link.takeForgotten() {
                attempts.cancelAll(reason: "the coordinator forgot this worker")
                log("dropped all queued work: the coordinator forgot this worker (it was silent or the coordinator restarted)")
            }
            let ready: [Int]
            switch try poller.poll(timeout: .milliseconds(50), stop: stop) {
            case .stopped: return
            case .timedOut: continue
            case .ready(let r): ready = r
            }
            if ready.contains(0) { try link.receiveAll { handleControl($0, link: link) } }
            if ready.contains(1) { try link.forwardAll(from: fromCompute) }
        }
    }

    private func handleControl(_ message: Message, link: ControlLink) {
        switch message {
        case .assignment(let a):
            guard queue.count < maxQueuedAssignments else {
                log("request \(a.requestID) attempt \(a.attempt): BUSY, \(queue.count) assignments queued")
                link.send(.error(ErrorReport(requestID: a.requestID, code: .busy,
                                             message: "\(queue.count) assignments queued (limit \(maxQueuedAssignments))",
                                             workerID: workerID, attempt: a.attempt)))
                return
            }
            attempts.register(a.requestID, attempt: a.attempt)
            load.addQueued(a.tokenIDs.count)
            queue.push(a)
        case .cancel(let c):
            attempts.cancel(c.requestID, reason: c.reason)
        default:
            log("ignored \(message.kind) on the control socket")
        }
    }

    // MARK: compute thread

    private func computeLoop(context: ZMQContext, outEndpoint: String, stop: StopSignal) {
        let out: ZMQSocket
        do {
            out = try context.socket(.pair)
            try out.connect(outEndpoint)
        } catch {
            log("compute thread cannot reach the I/O thread: \(error)")
            return
        }
        while !stop.isStopped {
            guard let a = queue.pop(waitingUpTo: .milliseconds(100)) else { continue }
            defer { load.removeQueued(a.tokenIDs.count) }
            let report: ErrorReport?
            do {
                try serve(a, context: context)
                report = nil
            } catch ClusterError.cancelled(_, let reason) {
                log("request \(a.requestID) attempt \(a.attempt): stopped (\(reason))")
                report = nil
            } catch {
                report = ErrorReport(requestID: a.requestID, code: Self.code(for: error),
                                     message: "prefill failed: \(error)", workerID: workerID, attempt: a.attempt)
                log("request \(a.requestID) attempt \(a.attempt): \(error)")
            }
            attempts.finish(a.requestID, attempt: a.attempt)
            if let report {
                do { try out.send(header: try Message.error(report).encoded(), timeout: .seconds(2)) } catch {
                    log("could not hand an error report to the I/O thread: \(error)")
                }
            }
        }
    }

    static func code(for error: any Error) -> ErrorCode {
        switch error {
        case ClusterError.deadlineExceeded: return .deadlineExceeded
        case ClusterError.badRequest, is RequestError, is HeadScoresError: return .badRequest
        case TransportError.timedOut, TransportError.peerUnreachable: return .workerLost
        default: return .internal
        }
    }

    /// Runs one assignment: KVBegin, prefill with a KVLayer per finished layer, KVEnd.
    func serve(_ a: Assignment, context: ZMQContext) throws {
        let prefillStart = UnixTime.nowMicros()
        let deadlineMicros = a.deadlineUnixMillis.map(UnixTime.micros(fromMillis:))
        func checkStillWanted() throws {
            if let reason = attempts.reason(a.requestID, attempt: a.attempt) {
                throw ClusterError.cancelled(requestID: a.requestID, reason: reason)
            }
            if let d = deadlineMicros, UnixTime.nowMicros() > d {
                throw ClusterError.deadlineExceeded(operation: "prefill of request \(a.requestID)", after: .zero)
            }
        }
        try checkStillWanted()
        let c = loaded.config
        let config = a.compression
        try config.validate(layerCount: c.layerCount)
        let n = a.tokenIDs.count
        guard n > 0 else { throw ClusterError.badRequest("empty prompt") }
        let headImportance = try loaded.headImportance(for: config)
        let plan = KVPlan.entryCounts(config: config, promptLength: n, layerCount: c.layerCount,
                                      kvHeadCount: c.kvHeadCount, headImportance: headImportance)
        let begin = KVBegin(requestID: a.requestID, model: shape, wireDType: a.wireDType, promptLength: n,
                            entryCounts: plan, sampling: a.sampling, compression: a.compression,
                            deadlineUnixMillis: a.deadlineUnixMillis, prefillWorkerID: workerID, stream: a.stream,
                            sentUnixMicros: UnixTime.nowMicros(), attempt: a.attempt)
        var encoder = try KVTransferEncoder(begin: begin)
        // One socket per transfer: its routing id names (worker, request, attempt), which is how the
        // decode worker tells a retry's transfer from a dead attempt's partial one.
        var options = SocketOptions.routed(RoutingID("p\(workerID)-r\(a.requestID)-a\(a.attempt)"))
        options.linger = .seconds(10)
        if let curve {
            // The decode worker's KV endpoint is a CURVE server holding the key it registered with,
            // which the coordinator (authenticated by its own key) tells us.
            guard let text = a.decodeKVServerKey else {
                throw ClusterError.badRequest("decode worker \(a.decodeWorkerID) has no CURVE key, and this worker sends KV only over CURVE")
            }
            options.curve = .client(curve.keyPair, serverKey: try CurveKey(z85: text))
        }
        let kv = try context.socket(.dealer, options: options)
        defer { kv.close() }
        try kv.connect(a.decodeKVEndpoint)
        func sendTimeout() -> Duration {
            guard let d = deadlineMicros else { return .seconds(10) }
            let left = UnixTime.elapsed(from: UnixTime.nowMicros(), to: d)
            return max(.milliseconds(1), min(left, .seconds(10)))
        }
        // A send blocked on a dead or stalled decode worker ends as soon as the attempt is cancelled.
        let attemptStop = attempts.stopSignal(a.requestID, attempt: a.attempt)
        func sendKV(_ frames: [OutgoingFrame]) throws {
            do {
                try kv.send(frames, timeout: sendTimeout(), stop: attemptStop)
            } catch .stopped {
                try checkStillWanted()
                throw ClusterError.cancelled(requestID: a.requestID, reason: "cancelled")
            }
        }
        // KVBegin goes out with the first layer, so connecting to the decode worker (a TCP handshake,
        // several one-way delays on a slow link) overlaps layer 0's compute instead of preceding it.
        let beginFrame = try encoder.encodeBegin()
        var begun = false
        func sendBeginOnce() throws {
            guard !begun else { return }
            try sendKV([.bytes(beginFrame)])
            begun = true
        }
        var scratchK = [Float](repeating: 0, count: 1), scratchV = [Float](repeating: 0, count: 1)
        var lastEncoded: UInt64 = 0
        // Encoding runs inside the prefill loop, layer by layer, so it is part of prefill compute in
        // StageTimes (KV encode *after* prefill is ~0); the summed per-layer time goes to the log.
        var encodeTime = Duration.zero
        let result = try CompressedPrefill.run(model: loaded.model, tokens: a.tokenIDs, config: config,
                                               decodeReserve: 0, headImportance: headImportance) { index, layer in
            try checkStillWanted()
            try sendBeginOnce()
            guard layer.entryCount == plan[index] else {
                throw ClusterError.planMismatch(layer: index, planned: plan[index], produced: layer.entryCount)
            }
            let floats = layer.entryCount * layer.headDim
            if scratchK.count < floats {
                scratchK = [Float](repeating: 0, count: floats)
                scratchV = [Float](repeating: 0, count: floats)
            }
            let encodeStart = ContinuousClock.now
            let encoded = try scratchK.withUnsafeMutableBufferPointer { k in
                try scratchV.withUnsafeMutableBufferPointer { v in
                    layer.copyEntries(keys: k.baseAddress!, values: v.baseAddress!)
                    return try encoder.encodeLayer(index, headCounts: layer.counts, positions: layer.wirePositions,
                                                   keys: UnsafeBufferPointer(rebasing: k[0..<floats]),
                                                   values: UnsafeBufferPointer(rebasing: v[0..<floats]))
                }
            }
            lastEncoded = UnixTime.nowMicros()
            encodeTime += ContinuousClock.now - encodeStart
            try sendKV(encoded.outgoingFrames)
        }
        let prefillEnd = UnixTime.nowMicros()
        try checkStillWanted()
        try sendBeginOnce()
        var sampler = Sampler(a.sampling)
        let first = sampler.next(result.logits)
        let times = StageTimes(prefillStartUnixMicros: prefillStart, prefillEndUnixMicros: prefillEnd,
                               kvEncodedUnixMicros: lastEncoded, kvSentUnixMicros: UnixTime.nowMicros())
        try sendKV([.bytes(try encoder.encodeEnd(firstToken: first, times: times))])
        log(String(format: "request %llu attempt %d: %d tokens, %@, prefill %.1f ms (of which KV copy+encode %.1f ms), %d wire bytes (%d payload) → %@",
                   a.requestID, a.attempt, n, a.compression.method.rawValue,
                   Double(prefillEnd - prefillStart) / 1000, encodeTime.milliseconds, encoder.wireBytes, encoder.payloadBytes,
                   a.decodeKVEndpoint))
    }
}
