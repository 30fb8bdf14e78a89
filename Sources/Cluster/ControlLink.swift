import Transport
import Wire

/// A worker's control connection to the coordinator: a DEALER (routing id = the worker id) that
/// registers, re-registers when the coordinator forgets the worker, and sends heartbeats.
/// Owned by the worker's I/O thread, like its socket.
final class ControlLink {
    let socket: ZMQSocket
    let registration: Register
    let log: Log
    private(set) var isRegistered = false
    /// Set when the coordinator answered "unknown worker": it dropped this worker (missed
    /// heartbeats, e.g. after SIGSTOP) or restarted, and has re-placed or forgotten every request
    /// this worker holds. The role drops that stale work (`takeForgotten`) and re-registers.
    private var forgotten = false
    private(set) var heartbeatInterval: Duration = .milliseconds(500)
    private var lastSent: ContinuousClock.Instant?
    private var sequence: UInt64 = 0
    private let clock = ContinuousClock()

    init(context: ZMQContext, coordinator: String, registration: Register, curve: CurveCredentials?, log: Log) throws {
        var options = SocketOptions.routed(RoutingID(workerID: registration.workerID))
        options.linger = .milliseconds(500)
        options.curve = try curve?.coordinatorClient()
        socket = try context.socket(.dealer, options: options)
        try socket.connect(coordinator)
        self.registration = registration
        self.log = log
    }

    /// Sends Register (until acknowledged) or a Heartbeat when one is due.
    func tick(health: Health, queuedPromptTokens: Int, freeKVBytes: Int, activeSequences: Int) {
        let now = clock.now
        let interval = isRegistered ? heartbeatInterval : .seconds(1)
        if let last = lastSent, now - last < interval { return }
        lastSent = now
        if !isRegistered {
            send(.register(registration), timeout: .milliseconds(200))
            return
        }
        sequence += 1
        send(.heartbeat(Heartbeat(workerID: registration.workerID, sequence: sequence, health: health,
                                  queuedPromptTokens: queuedPromptTokens, freeKVBytes: freeKVBytes,
                                  activeSequences: activeSequences, sentUnixMicros: UnixTime.nowMicros())),
             timeout: .milliseconds(200))
    }

    /// Handles membership messages; returns the message when it is for the role itself.
    func absorb(_ message: Message) -> Message? {
        switch message {
        case .registerAck(let ack):
            if !isRegistered { log("registered with the coordinator as \(ack.workerID)") }
            isRegistered = true
            heartbeatInterval = max(.milliseconds(50), ack.heartbeatInterval)
            return nil
        case .error(let e) where e.requestID == nil:
            log("coordinator: \(e.code.label): \(e.message)")
            if e.code == .badRequest || e.code == .workerLost { isRegistered = false; lastSent = nil }
            if e.code == .workerLost { forgotten = true }
            return nil
        default:
            return message
        }
    }

    /// Whether the coordinator forgot this worker since the last call (see `forgotten`).
    func takeForgotten() -> Bool {
        defer { forgotten = false }
        return forgotten
    }

    /// The next `tick` sends at once (health changed: say so now, not an interval later).
    func sendSoon() { lastSent = nil }

    /// Decodes every control message waiting on the socket, absorbs the membership ones and hands
    /// the rest to `handle`; malformed frames are logged and dropped.
    func receiveAll(_ handle: (Message) -> Void) throws {
        while let received = try socket.receiveIfAvailable(onDropped: { log("dropped a message: \($0)") }) {
            let message: Message
            do { message = try Message.decode(frame: received.header) } catch {
                log("dropped a malformed control message (\(received.byteCount) bytes): \(error)")
                continue
            }
            if let message = absorb(message) { handle(message) }
        }
    }

    /// Forwards every report the compute thread queued on `reports` (already encoded) to the
    /// coordinator, best effort like `send`. A slow or absent coordinator must never stall the I/O
    /// thread (and through it the compute thread's queue): after one send times out, the rest of
    /// this pass is tried without waiting and dropped if there is no room — the coordinator's own
    /// deadlines and re-placement cover the requests they were about.
    func forwardAll(from reports: ZMQSocket) throws {
        var congested = false
        var dropped = 0
        while let m = try reports.receiveIfAvailable() {
            do { try socket.send(header: m.header.bytes, timeout: congested ? .zero : .milliseconds(50)) } catch {
                congested = true
                dropped += 1
            }
        }
        if dropped > 0 { log("the coordinator is not taking messages: dropped \(dropped) reports") }
    }

    /// Best effort: a control message that cannot leave within `timeout` is logged and dropped (the
    /// coordinator's own deadlines cover the request).
    func send(_ message: Message, timeout: Duration = .seconds(2)) {
        do {
            try socket.send(header: try message.encoded(), timeout: timeout)
        } catch {
            log("could not send \(message.kind) to the coordinator: \(error)")
        }
    }
}
