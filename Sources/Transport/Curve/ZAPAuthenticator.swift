import CZMQ
import Dispatch
import Foundation
import Synchronization

/// The ZAP handler (ZeroMQ RFC 27) of one context: a REP socket on `inproc://zeromq.zap.01`, served
/// by its own thread, that libzmq asks about every CURVE client handshaking with a server socket of
/// this context. It admits exactly the keys in `authorizedKeys` and sets the connection's User-Id to
/// the admitted public key (Z85), which every message from that peer then carries
/// (`ReceivedMessage.peerIdentity`). Anything else — an unknown key, another mechanism, a malformed
/// request — gets status 400, and libzmq closes the connection before a single message passes.
///
/// Start it before creating CURVE server sockets (`SocketOptions.curve = .server`), which refuse to
/// exist without one: libzmq admits every key when no handler is bound. `stop()` (or deinit) ends
/// the thread within `stopCheckInterval` and closes its socket, so the context can terminate.
public final class ZAPAuthenticator: Sendable {
    public let authorizedKeys: AuthorizedKeys
    private let stopSignal = StopSignal()
    private let finished = DispatchSemaphore(value: 0)
    private let stopped = Atomic<Bool>(false)
    private let context: ZMQContext
    private let refusals = Atomic<Int>(0)
    private let admissions = Atomic<Int>(0)

    static let endpoint = "inproc://zeromq.zap.01"

    /// Binds the handler's socket now (so no handshake can slip past it), then serves it on a new
    /// thread. `log` gets one line per refused peer.
    public init(context: ZMQContext, authorizedKeys: AuthorizedKeys,
                log: @escaping @Sendable (String) -> Void = { _ in }) throws(TransportError) {
        try Curve.requireAvailable()
        self.authorizedKeys = authorizedKeys
        self.context = context
        var options = SocketOptions()
        options.heartbeatInterval = nil
        options.linger = .zero
        let socket = try context.socket(.reply, options: options)
        try socket.bind(Self.endpoint)
        context.zapHandlerStarted()
        // The socket moves to the handler thread here and is used only there from now on (libzmq
        // allows moving a socket between threads across a full memory barrier; thread start is one).
        let handoff = SocketHandoff(socket)
        let thread = Thread { [self] in
            serve(handoff.take(), log: log)
            context.zapHandlerStopped()
            finished.signal()
        }
        thread.name = "zap"
        thread.start()
    }

    deinit { stop() }

    /// Ends the handler thread (idempotent); waits for it at most `timeout`.
    public func stop(timeout: Duration = .seconds(2)) {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        stopSignal.stop()
        let s = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) * 1e-18
        _ = finished.wait(timeout: .now() + s)
    }

    /// Handshakes refused and admitted so far (tests, logs).
    public var refusedCount: Int { refusals.load(ordering: .relaxed) }
    public var admittedCount: Int { admissions.load(ordering: .relaxed) }

    private func serve(_ socket: ZMQSocket, log: @Sendable (String) -> Void) {
        defer { socket.close() }
        while !stopSignal.isStopped {
            let request: ReceivedMessage
            do { request = try socket.receive(timeout: .milliseconds(200), stop: stopSignal) } catch {
                switch error {
                case .timedOut: continue
                case .stopped, .socketClosed: return
                default:
                    log("ZAP handler: receive failed: \(error)")
                    continue
                }
            }
            let reply = decide(request.frames.map(\.bytes), log: log)
            do { try socket.send(reply.map { .bytes($0) }, timeout: .seconds(1)) } catch {
                log("ZAP handler: could not reply: \(error)")
            }
        }
    }

    /// One ZAP request (frames: version, request id, domain, address, routing id, mechanism,
    /// credentials…) → the reply frames (version, request id, status code, status text, user id,
    /// metadata).
    func decide(_ frames: [[UInt8]], log: @Sendable (String) -> Void) -> [[UInt8]] {
        let requestID = frames.count > 1 ? frames[1] : []
        func answer(_ code: String, _ text: String, user: String = "") -> [[UInt8]] {
            [Array("1.0".utf8), requestID, Array(code.utf8), Array(text.utf8), Array(user.utf8), []]
        }
        guard frames.count >= 6, frames[0] == Array("1.0".utf8) else {
            refusals.add(1, ordering: .relaxed)
            log("ZAP handler: refused a malformed request (\(frames.count) frames)")
            return answer("400", "malformed ZAP request")
        }
        let mechanism = String(decoding: frames[5], as: UTF8.self)
        let address = String(decoding: frames[3], as: UTF8.self)
        guard mechanism == "CURVE", frames.count == 7, let key = try? CurveKey(bytes: frames[6]) else {
            refusals.add(1, ordering: .relaxed)
            log("ZAP handler: refused \(address): mechanism \(mechanism) (only CURVE with an authorized key is accepted)")
            return answer("400", "CURVE required")
        }
        guard authorizedKeys.name(of: key) != nil else {
            refusals.add(1, ordering: .relaxed)
            log("ZAP handler: refused \(address): public key \(key.z85) is not in the authorized keys")
            return answer("400", "unknown key")
        }
        admissions.add(1, ordering: .relaxed)
        return answer("200", "OK", user: key.z85)
    }
}

/// Carries a socket to the thread that will own it from then on.
private final class SocketHandoff: @unchecked Sendable {
    private var socket: ZMQSocket?
    init(_ socket: ZMQSocket) { self.socket = socket }
    func take() -> ZMQSocket {
        let s = socket!
        socket = nil
        return s
    }
}
