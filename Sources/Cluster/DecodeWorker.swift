import RequestVocabulary
import Engine
import FastKV
import Foundation
import Llama
import Tensors
import Transport
import Wire

/// The decode role: receives KV transfers from prefill workers on its KV endpoint (a ROUTER),
/// validates every header before anything is installed, reserves memory from the size KVBegin
/// announces (answering BUSY when it does not fit), and runs installed sequences in its continuous
/// batch (`DecodeBatch`), streaming tokens back through the coordinator.
///
/// Threads: the I/O thread owns the control DEALER, the KV ROUTER and an inproc PAIR from the
/// compute thread; the compute thread owns the model's decode loop. Sequences move through a
/// `LockedQueue`, cancels through `CancelledRequests`, memory through `KVMemoryBudget`.
public final class DecodeWorker: @unchecked Sendable {
    public let loaded: LoadedModel
    public let workerID: UInt64
    public let coordinator: String
    public let kvListen: String
    /// The KV endpoint announced to the coordinator (and so to prefill workers) when it is not the
    /// bound one: e.g. a delay relay or a NAT address in front of `kvListen`. nil = the bound endpoint.
    public let kvAdvertise: String?
    /// A transfer with no message for this long is dropped and its reservation released.
    public var stalledTransferTimeout: Duration = .seconds(10)
    /// The most sequences held at once, decoding plus being received: a KVBegin beyond it is BUSY.
    public var maxSequences = 64
    /// Raised (SIGTERM) to drain: the worker tells the coordinator it takes no new work, finishes
    /// what it holds, and leaves; after `drainTimeout` it leaves anyway and the coordinator
    /// re-places what was left (Deregister).
    public let drain = StopSignal()
    public var drainTimeout: Duration = .seconds(30)
    /// CURVE on the control link and the KV endpoint (which admits `curve.authorizedKeys`); nil = plain.
    public let curve: CurveCredentials?
    /// Allow a non-loopback KV endpoint without CURVE (`--insecure`).
    public let insecure: Bool
    let shape: ModelShape
    let budget: KVMemoryBudget
    let log: Log
    let inbox = LockedQueue<InstalledSequence>()
    let cancelled = CancelledRequests()
    let load = WorkerLoad()
    private var transfers: [RoutingID: InboundTransfer] = [:]
    /// Senders whose transfer was refused or abandoned: their remaining layers are dropped quietly.
    var refused: [RoutingID: ContinuousClock.Instant] = [:]
    /// Who may push which transfer (enforced with CURVE) and the transfers waiting for their
    /// KVExpect (`DecodeWorker+KVSenders.swift`).
    var gate: KVSenderGate
    var parked: [RoutingID: ParkedTransfer] = [:]
    /// How long a KVBegin may wait for the coordinator's KVExpect before it is refused.
    public var expectationWait: Duration = .seconds(2)
    private var nextReservation: UInt64 = 1
    private let clock = ContinuousClock()

    public init(loaded: LoadedModel, coordinator: String, kvListen: String, kvAdvertise: String? = nil,
                maxKVBytes: Int, workerID: UInt64? = nil, curve: CurveCredentials? = nil, insecure: Bool = false) {
        self.loaded = loaded
        self.curve = curve
        self.insecure = insecure
        gate = KVSenderGate(enforced: curve != nil)
        self.coordinator = coordinator
        self.kvListen = kvListen
        self.kvAdvertise = kvAdvertise
        self.workerID = workerID ?? WorkerIdentity.newWorkerID()
        shape = WorkerIdentity.shape(of: loaded)
        budget = KVMemoryBudget(capacityBytes: maxKVBytes)
        log = Log(role: "decode[\(self.workerID)]")
    }

    public func run(stop: StopSignal) throws {
        try EndpointExposure.check(kvListen, flag: "--kv-listen", curve: curve != nil, insecure: insecure)
        if let kvAdvertise {
            try EndpointExposure.check(kvAdvertise, flag: "--kv-advertise", curve: curve != nil, insecure: insecure)
        }
        let context = try ZMQContext()
        var kvOptions = SocketOptions()
        kvOptions.receiveHighWaterMark = 64
        var authenticator: ZAPAuthenticator?
        if let curve {
            let (auth, security) = try curve.server(context: context, log: log)
            authenticator = auth
            kvOptions.curve = security
        }
        defer { authenticator?.stop() }
        let kvSocket = try context.socket(.router, options: kvOptions)
        let boundKVEndpoint = try kvSocket.bind(kvListen)
        let kvEndpoint = kvAdvertise ?? boundKVEndpoint
        let outEndpoint = "inproc://decode-out-\(workerID)"
        let fromCompute = try context.socket(.pair)
        try fromCompute.bind(outEndpoint)
        let link = try ControlLink(
            context: context, coordinator: coordinator,
            registration: Register(workerID: workerID, role: .decode, controlEndpoint: "pid \(getpid())",
                                   kvEndpoint: kvEndpoint, model: shape, kvCapacityBytes: budget.capacityBytes,
                                   maxSequences: maxSequences, softwareVersion: "fastkv-cluster/1",
                                   kvBytesPerElement: loaded.model.kvDType.bytesPerElement), curve: curve, log: log)
        let batch = DecodeBatch(loaded: loaded, workerID: workerID, shape: shape, inbox: inbox, cancelled: cancelled,
                                budget: budget, load: load, log: log)
        // The compute thread stops with the worker, and by itself only if it cannot run at all; then
        // `computeEnded` is raised and the next heartbeat (sent at once) says the worker is unhealthy.
        let computeStop = StopSignal()
        let computeEnded = StopSignal()
        let computeThread = Thread {
            batch.run(context: context, outEndpoint: outEndpoint, stop: computeStop)
            computeEnded.stop()
        }
        computeThread.stackSize = 16 << 20
        computeThread.start()
        // On the way out the compute thread ends first (bounded), so every socket is released when
        // this returns and the context's termination flushes what is queued (Deregister above all)
        // within the sockets' linger, before the process exits.
        defer { computeStop.stop(); computeEnded.wait(upTo: .seconds(3)) }
        log("serving; KV endpoint \(kvEndpoint)\(kvAdvertise == nil ? "" : " (bound \(boundKVEndpoint))"), \(budget.capacityBytes) KV bytes (\(loaded.model.kvDType.rawValue) KV); coordinator \(coordinator)")
        let poller = ZMQPoller([link.socket, kvSocket, fromCompute])
        var lifecycle = WorkerLifecycle(drain: drain, drainTimeout: drainTimeout, computeEnded: computeEnded, log: log)
        while !stop.isStopped {
            if let leaving = lifecycle.step(link: link, idle: transfers.isEmpty && load.heldSequences == 0,
                                            held: { "\(load.heldSequences) sequences installed, \(transfers.count) being received" }) {
                leave(link: link, fromCompute: fromCompute, reason: leaving.reason)
                return
            }
            link.tick(health: lifecycle.health, queuedPromptTokens: 0, freeKVBytes: budget.freeBytes,
                      activeSequences: load.activeSequences + transfers.count)
            if link.takeForgotten() { dropEverything(reason: "the coordinator forgot this worker (it was silent or the coordinator restarted)", link: link) }
            expireStalledTransfers(link: link)
            expireParked(socket: kvSocket)
            let ready: [Int]
            switch try poller.poll(timeout: .milliseconds(50), stop: stop) {
            case .stopped: return
            case .timedOut: continue
            case .ready(let r): ready = r
            }
            if ready.contains(0) { try link.receiveAll { handleControl($0, link: link, kvSocket: kvSocket) } }
            if ready.contains(1) {
                var drained = 0
                while drained < 64, let m = try kvSocket.receiveIfAvailable(onDropped: { log("dropped a KV message: \($0)") }) {
                    handleKV(m, socket: kvSocket, link: link)
                    drained += 1
                }
            }
            if ready.contains(2) { try link.forwardAll(from: fromCompute) }
        }
    }

    /// Leaves the cluster: whatever is still held is dropped here and re-placed by the coordinator,
    /// which forgets this worker on Deregister (sent after the last reports are forwarded).
    private func leave(link: ControlLink, fromCompute: ZMQSocket, reason: String) {
        dropEverything(reason: "worker leaving", link: link)
        try? link.forwardAll(from: fromCompute)
        link.send(.deregister(Deregister(workerID: workerID, reason: reason, drained: false)), timeout: .milliseconds(500))
        log("leaving: \(reason)")
    }

    /// Drops every transfer and sequence held, quietly: the coordinator has re-placed or forgotten
    /// those requests, so reports about them would only be noise. Their reservations are released
    /// (the batch releases its sequences' between steps).
    private func dropEverything(reason: String, link: ControlLink) {
        for peer in Array(transfers.keys) { abandon(peer, reason: reason, report: nil, link: link, socket: nil) }
        for s in inbox.popAll(waitingUpTo: .zero) {
            budget.release(key: s.reservationKey)
            load.sequenceEnded()
        }
        cancelled.cancelEverything(reason: reason)
        log("dropped all held work: \(reason)")
    }

    private func handleControl(_ message: Message, link: ControlLink, kvSocket: ZMQSocket) {
        switch message {
        case .kvExpect(let e):
            admitExpected(e, socket: kvSocket, link: link)
        case .cancel(let c):
            cancelled.cancel(c.requestID, reason: c.reason)
            forgetExpected(c.requestID)
            for (peer, t) in transfers where t.requestID == c.requestID {
                abandon(peer, reason: "cancelled: \(c.reason)", report: nil, link: link, socket: nil)
            }
        default:
            log("ignored \(message.kind) on the control socket")
        }
    }

    // MARK: KV endpoint

    func handleKV(_ received: ReceivedMessage, socket: ZMQSocket, link: ControlLink) {
        guard let peer = received.peer else { return }
        let message: Message
        do { message = try Message.decode(frame: received.header) } catch {
            log("rejected a malformed KV message from \(peer) (\(received.byteCount) bytes): \(error)")
            if transfers[peer] != nil {
                abandon(peer, reason: "malformed KV message: \(error)", report: .malformed, link: link, socket: socket)
            } else {
                reply(socket, to: peer, ErrorReport(requestID: nil, code: .malformed, message: "\(error)", workerID: workerID))
            }
            return
        }
        if holdIfParked(message, received, from: peer, socket: socket) { return }
        switch message {
        case .kvBegin(let begin):
            guard admits(begin, received, from: peer, socket: socket) else { return }
            beginTransfer(begin, from: peer, bytes: received.byteCount, socket: socket, link: link)
        case .kvLayer(let header):
            guard var t = transfers[peer] else {
                guard refused[peer] == nil else { return }
                reply(socket, to: peer, ErrorReport(requestID: header.requestID, code: .malformed,
                                                    message: "KVLayer without a KVBegin from this sender", workerID: workerID))
                return
            }
            do {
                // Checked against KVBegin before anything is sized by the header's entry count.
                try t.receiver.validate(header)
                let floats = header.entryCount * shape.headDim
                var keys = [Float](repeating: 0, count: floats), values = [Float](repeating: 0, count: floats)
                try keys.withUnsafeMutableBufferPointer { k in
                    try values.withUnsafeMutableBufferPointer { v in
                        try t.receiver.receiveLayer(header, frames: received.payload, keys: k, values: v)
                    }
                }
                // Head h's rows follow heads 0..<h (ragged layers: counts may differ per head); each head
                // was reserved at KVBegin from the layer total, so installing reallocates nothing that
                // the reservation did not already count.
                keys.withUnsafeBufferPointer { k in
                    values.withUnsafeBufferPointer { v in
                        let layer = t.cache.layers[header.layerIndex]
                        let steps = t.receiver.begin.sampling.maxTokens
                        for (h, n) in header.headEntryCounts.enumerated() { layer.reserve(head: h, n + steps) }
                        if header.entryCount > 0 {
                            layer.append(keys: k.baseAddress!, values: v.baseAddress!,
                                                                     headCounts: header.headEntryCounts,
                                                                     positions: header.positions)
                        }
                    }
                }
                t.wireBytes += received.byteCount
                t.lastActivity = clock.now
                transfers[peer] = t
            } catch {
                abandon(peer, reason: "rejected KVLayer \(header.layerIndex): \(error)", report: .malformed,
                        link: link, socket: socket)
            }
        case .kvEnd(let end):
            guard var t = transfers[peer] else {
                guard refused[peer] == nil else { return }
                reply(socket, to: peer, ErrorReport(requestID: end.requestID, code: .malformed,
                                                    message: "KVEnd without a KVBegin from this sender", workerID: workerID))
                return
            }
            do {
                try t.receiver.finish(end)
            } catch {
                abandon(peer, reason: "rejected KVEnd: \(error)", report: .malformed, link: link, socket: socket)
                return
            }
            let receivedAt = UnixTime.nowMicros()
            t.wireBytes += received.byteCount
            let begin = t.receiver.begin
            let method = begin.compression.method
            t.cache.nextPosition = Int32(KVPlan.nextPosition(method: method, promptLength: begin.promptLength,
                                                             entryCounts: begin.entryCounts, kvHeadCount: shape.kvHeads))
            var times = end.times
            times.kvReceivedUnixMicros = receivedAt
            times.kvInstalledUnixMicros = UnixTime.nowMicros()
            transfers.removeValue(forKey: peer)
            load.sequenceInstalled()
            inbox.push(InstalledSequence(begin: begin, cache: t.cache, firstToken: end.firstToken, times: times,
                                         wireBytes: t.wireBytes, payloadBytes: t.receiver.receivedPayloadBytes,
                                         reservationKey: t.reservationKey, generation: cancelled.generation))
        default:
            log("rejected \(message.kind) from \(peer) on the KV endpoint")
            reply(socket, to: peer, ErrorReport(requestID: message.requestID, code: .malformed,
                                                message: "\(message.kind) is not a KV transfer message", workerID: workerID))
        }
    }

    private func beginTransfer(_ begin: KVBegin, from peer: RoutingID, bytes: Int, socket: ZMQSocket, link: ControlLink) {
        if transfers[peer] != nil {
            abandon(peer, reason: "a new KVBegin from the same sender", report: nil, link: link, socket: nil)
        }
        // A retry's transfer replaces any partial transfer of an earlier attempt of the same request;
        // a stale attempt's KVBegin arriving after a newer one's is refused instead.
        if let newer = transfers.values.first(where: { $0.requestID == begin.requestID && $0.receiver.begin.attempt > begin.attempt }) {
            refuse(peer, ErrorReport(requestID: begin.requestID, code: .cancelled,
                                     message: "attempt \(begin.attempt) is stale: attempt \(newer.receiver.begin.attempt) is being received",
                                     workerID: workerID, attempt: begin.attempt), link: link, socket: socket)
            return
        }
        for (other, t) in transfers where t.requestID == begin.requestID {
            abandon(other, reason: "superseded by attempt \(begin.attempt) from \(peer)", report: nil, link: link, socket: nil)
        }
        refused.removeValue(forKey: peer)
        let held = load.activeSequences + transfers.count + inbox.count
        guard held < maxSequences else {
            refuse(peer, ErrorReport(requestID: begin.requestID, code: .busy,
                                     message: "\(held) sequences held (limit \(maxSequences))",
                                     workerID: workerID, attempt: begin.attempt), link: link, socket: socket)
            return
        }
        cancelled.forget(begin.requestID)
        let receiver: KVTransferReceiver
        do {
            receiver = try KVTransferReceiver(begin: begin, localModel: shape)
        } catch {
            let code: ErrorCode = if case .modelMismatch = error { .modelMismatch } else { .malformed }
            refuse(peer, ErrorReport(requestID: begin.requestID, code: code, message: "KVBegin rejected: \(error)",
                                     workerID: workerID, attempt: begin.attempt), link: link, socket: socket)
            return
        }
        // At this worker's --kv-dtype (2 bytes per element under f16: twice the sequences fit), whatever
        // the sender's cache held: the wire carries its own dtype and installs convert.
        let need = KVPlan.installBytes(entryCounts: begin.entryCounts, decodeSteps: begin.sampling.maxTokens,
                                       kvHeads: shape.kvHeads, headDim: shape.headDim, kvDType: loaded.model.kvDType)
        let key = nextReservation
        nextReservation += 1
        guard budget.reserve(need, key: key) else {
            refuse(peer, ErrorReport(requestID: begin.requestID, code: .busy,
                                     message: "KV for \(begin.promptLength) prompt tokens + \(begin.sampling.maxTokens) decode steps needs \(need) bytes; \(budget.freeBytes) of \(budget.capacityBytes) free",
                                     workerID: workerID, attempt: begin.attempt), link: link, socket: socket)
            return
        }
        // Heads are sized when their layer arrives (its header carries the per-head split of the
        // reserved total) to their entries plus the decode steps: exactly what `need` counted.
        let cache = KVCache(layerCount: shape.layerCount, kvHeadCount: shape.kvHeads, headDim: shape.headDim, capacity: 1,
                            dtype: loaded.model.kvDType)
        transfers[peer] = InboundTransfer(receiver: receiver, cache: cache, reservationKey: key, wireBytes: bytes,
                                          lastActivity: clock.now)
    }

    /// Refuses a transfer before anything was reserved: tells the coordinator and the sender.
    private func refuse(_ peer: RoutingID, _ report: ErrorReport, link: ControlLink, socket: ZMQSocket) {
        log("request \(report.requestID ?? 0): \(report.code.label): \(report.message)")
        refused[peer] = clock.now
        link.send(.error(report))
        reply(socket, to: peer, report)
    }

    /// Drops a transfer in progress and releases its reservation; reports it when `report` is given.
    private func abandon(_ peer: RoutingID, reason: String, report: ErrorCode?, link: ControlLink, socket: ZMQSocket?) {
        guard let t = transfers.removeValue(forKey: peer) else { return }
        budget.release(key: t.reservationKey)
        refused[peer] = clock.now
        log("request \(t.requestID): dropped the KV transfer from \(peer) (\(t.receiver.receivedLayerCount) layers in): \(reason)")
        if let report {
            let e = ErrorReport(requestID: t.requestID, code: report, message: reason, workerID: workerID,
                                attempt: t.receiver.begin.attempt)
            link.send(.error(e))
            if let socket { reply(socket, to: peer, e) }
        }
    }

    private func expireStalledTransfers(link: ControlLink) {
        let now = clock.now
        let nowMillis = UnixTime.nowMillis()
        for (peer, t) in transfers {
            if let d = t.receiver.begin.deadlineUnixMillis, nowMillis > d {
                abandon(peer, reason: "deadline passed during the KV transfer", report: .deadlineExceeded, link: link, socket: nil)
            } else if now - t.lastActivity > stalledTransferTimeout {
                abandon(peer, reason: "partial KV transfer stalled for \(stalledTransferTimeout)", report: .workerLost,
                        link: link, socket: nil)
            }
        }
        refused = refused.filter { now - $0.value < .seconds(120) }
    }

    func reply(_ socket: ZMQSocket, to peer: RoutingID, _ report: ErrorReport) {
        do { try socket.send(header: try Message.error(report).encoded(), to: peer, timeout: .milliseconds(100)) } catch {
            log("could not answer \(peer): \(error)")
        }
    }
}

extension DecodeWorker {
    /// Checks an endpoint other processes are told to connect to (`--kv-advertise`): `tcp://HOST:PORT`
    /// with a concrete host (not `*`, not 0.0.0.0 / ::) and a port in 1...65535, or `ipc://PATH`.
    /// Returns it unchanged; throws `ClusterError.badRequest` naming what is wrong.
    public static func validateAdvertisedEndpoint(_ endpoint: String) throws -> String {
        func bad(_ why: String) -> ClusterError {
            .badRequest("KV advertise endpoint '\(endpoint)' \(why); expected tcp://HOST:PORT (a connectable host "
                + "and a port in 1...65535) or ipc://PATH")
        }
        if endpoint.hasPrefix("ipc://") {
            guard endpoint.count > "ipc://".count, !endpoint.contains("*") else { throw bad("has no usable path") }
            return endpoint
        }
        guard endpoint.hasPrefix("tcp://") else { throw bad("is not a tcp:// or ipc:// endpoint") }
        let rest = endpoint.dropFirst("tcp://".count)
        guard let colon = rest.lastIndex(of: ":") else { throw bad("has no port") }
        var host = String(rest[..<colon])
        let port = String(rest[rest.index(after: colon)...])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains("*"), !host.contains(";"), !host.contains("/") else {
            throw bad("has no concrete host")
        }
        guard !["0.0.0.0", "::", "0:0:0:0:0:0:0:0"].contains(host) else {
            throw bad("names the wildcard address, which other hosts cannot connect to")
        }
        guard let p = Int(port), (1...65535).contains(p), port.allSatisfy(\.isASCII) else {
            throw bad(port == "*" ? "has port *; advertise the concrete port" : "has no port in 1...65535")
        }
        return endpoint
    }
}
