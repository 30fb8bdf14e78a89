import Foundation
import RequestVocabulary
import Transport
import Wire

/// What a client saw of one request: the coordinator's Result plus its own clock's view of the
/// first and second token (client-side TTFT, wire latency to the client included).
public struct SubmitOutcome: Sendable {
    public var result: RequestResult
    public var clientTimeToFirstToken: Duration?
    public var clientTimeToSecondToken: Duration?
    public var clientTotal: Duration
}

/// The client side of the coordinator protocol (`fastkv submit`, `fastkv cluster-status`, tests).
/// A DEALER per client; every wait has the client's own deadline, so a dead coordinator is an
/// error, not a hang.
public final class ClusterClient {
    public let coordinator: String
    /// While a request is outstanding and nothing arrives for this long, the client asks the
    /// coordinator whether it still holds the request (a StatusQuery naming it)...
    public var probeInterval: Duration = .seconds(1)
    /// ...and gives the request up as lost when the coordinator has said nothing at all for this
    /// long (dead or stopped), or at once when it answers that it does not hold the request.
    public var coordinatorSilence: Duration = .seconds(10)
    let context: ZMQContext
    let socket: ZMQSocket
    /// Whether this client authenticates (for the hint when a connection never completes).
    let usesCurve: Bool

    /// - Parameter curve: the client's key pair and the coordinator's public key; nil = plain.
    public init(coordinator: String, curve: CurveCredentials? = nil) throws {
        self.coordinator = coordinator
        context = try ZMQContext()
        var options = SocketOptions()
        options.linger = .milliseconds(100)
        options.curve = try curve?.coordinatorClient()
        usesCurve = curve != nil
        socket = try context.socket(.dealer, options: options)
        try socket.connect(coordinator)
    }

    deinit { socket.close() }

    /// The coordinator's worker table, one row per worker.
    public func workers(timeout: Duration = .seconds(5)) throws -> [WorkerStatusRow] {
        try status(timeout: timeout).workers.map(WorkerStatusRow.init)
    }

    /// The worker table plus the requests the coordinator holds.
    public func snapshot(timeout: Duration = .seconds(5)) throws -> ClusterSnapshot {
        ClusterSnapshot(try status(timeout: timeout))
    }

    /// Polls until at least `prefill` and `decode` healthy workers are registered (the scripts'
    /// readiness check), or throws after `wait` naming what was missing.
    public func waitForWorkers(prefill: Int, decode: Int, wait: Duration,
                               pollTimeout: Duration = .seconds(5)) throws -> [WorkerStatusRow] {
        let deadline = ContinuousClock.now + wait
        var last = "coordinator not reachable"
        while true {
            do {
                let rows = try workers(timeout: min(pollTimeout, wait))
                let healthy = rows.filter(\.isHealthy)
                let p = healthy.filter { $0.role == "prefill" }.count, d = healthy.filter { $0.role == "decode" }.count
                if p >= prefill && d >= decode { return rows }
                last = "\(p) of \(prefill) prefill and \(d) of \(decode) decode workers healthy"
            } catch {
                last = "\(error)"
            }
            guard ContinuousClock.now < deadline else {
                throw ClusterError.workersNotReady(after: wait, last: last)
            }
            Thread.sleep(forTimeInterval: 0.25)
        }
    }

    /// Asks the coordinator for its worker table.
    func status(timeout: Duration = .seconds(5)) throws -> StatusReply {
        try send(.statusQuery(StatusQuery()), timeout: timeout)
        let deadline = ContinuousClock.now + timeout
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw ClusterError.deadlineExceeded(operation: "cluster-status at \(coordinator)", after: timeout) }
            let m = try receive(timeout: left, operation: "cluster-status at \(coordinator)", total: timeout)
            switch m {
            case .statusReply(let r): return r
            case .error(let e): throw ClusterError.remote(e)
            default: continue
            }
        }
    }

    /// Submits a request and waits for its result (or error), calling `onTokens` for streamed tokens.
    /// `clientTimeout` bounds the wait from the coordinator's first word about the request (a
    /// status reply or a message for it), so a Submit held up on a stalled link still gets the
    /// coordinator's own answer at its deadline; the whole wait is at most `clientTimeout` plus
    /// `coordinatorSilence`. On expiry the coordinator is told to cancel.
    /// `cancellation`, when given, is polled at least every `cancellationPoll`: once it has a
    /// reason the coordinator is told to cancel (which frees the request's KV on its workers) and
    /// this throws `ClusterError.cancelled`. It exists for callers whose own client went away (the
    /// HTTP gateway when a stream's connection drops): a ZeroMQ socket must not be used from two
    /// threads, so the Cancel has to go out from the thread that waits here.
    public func submit(_ request: GenerationRequest, requestID: UInt64 = UInt64.random(in: 1...UInt64(Int64.max)),
                       clientTimeout: Duration, cancellation: RequestCancellation? = nil,
                       cancellationPoll: Duration = .milliseconds(20),
                       onTokens: (StreamedTokens) -> Void = { _ in }) throws -> SubmitOutcome {
        try submit(Submit(requestID: requestID, request: request), clientTimeout: clientTimeout,
                   cancellation: cancellation, cancellationPoll: cancellationPoll) { chunk in
            onTokens(StreamedTokens(index: chunk.index, tokenIDs: chunk.tokenIDs, text: chunk.text))
        }
    }

    /// The same with a wire `Submit` (tests that craft requests the vocabulary would refuse).
    public func submit(_ submit: Submit, clientTimeout: Duration, cancellation: RequestCancellation? = nil,
                       cancellationPoll: Duration = .milliseconds(20),
                       onChunk: (TokenChunk) -> Void = { _ in }) throws -> SubmitOutcome {
        let clock = ContinuousClock()
        let start = clock.now
        // Checked here, so an oversized request is a clear local error rather than a refusal the
        // coordinator can only send without a request id.
        let header = try Message.submit(submit).encoded()
        let limit = WireLimits.default.maxEnvelopeBytes
        guard header.count <= limit else {
            throw ClusterError.badRequest("the request encodes to \(header.count) bytes; the coordinator accepts at most \(limit) (shorten the prompt)")
        }
        try send(header: header, timeout: min(clientTimeout, .seconds(5)))
        var first: Duration?, second: Duration?
        var received = 0
        var lastHeard = clock.now
        var lastProbe = clock.now
        // The coordinator's deadline runs from when it receives the Submit, which a stalled link
        // (TCP retransmission backoff after a cut) can delay by up to `coordinatorSilence`; its
        // first word about the request bounds that delay. So the wait is `clientTimeout` plus the
        // time until that first word (until then, plus the time so far: the silence check ends
        // that wait), at most `clientTimeout + coordinatorSilence` in all.
        var acknowledged: Duration?
        while true {
            let elapsed = clock.now - start
            let limit = clientTimeout + min(acknowledged ?? elapsed, coordinatorSilence)
            let left = limit - elapsed
            guard left > .zero else {
                try? send(.cancel(Cancel(requestID: submit.requestID, reason: "client deadline")), timeout: .milliseconds(200))
                throw ClusterError.deadlineExceeded(operation: "request \(submit.requestID) at \(coordinator)", after: limit)
            }
            if let reason = cancellation?.reason {
                try? send(.cancel(Cancel(requestID: submit.requestID, reason: reason)), timeout: .milliseconds(200))
                throw ClusterError.cancelled(requestID: submit.requestID, reason: reason)
            }
            let silent = clock.now - lastHeard
            guard silent < coordinatorSilence else {
                throw ClusterError.coordinatorLost(requestID: submit.requestID,
                                                   reason: "the coordinator at \(coordinator) has not answered for \(silent.wholeMilliseconds) ms")
            }
            let m: Message
            do {
                let slice = min(left, cancellation == nil ? probeInterval : min(probeInterval, cancellationPoll))
                m = try receive(timeout: slice, operation: "request \(submit.requestID) at \(coordinator)", total: limit)
            } catch ClusterError.deadlineExceeded where clock.now - start < limit {
                // Quiet for a probe interval: is the request still held? (Answered in order after
                // anything the coordinator already sent about it, so a late Result still wins.)
                // A shorter slice only checks the cancellation and waits on.
                if clock.now - lastProbe >= probeInterval {
                    lastProbe = clock.now
                    try? send(.statusQuery(StatusQuery(requestID: submit.requestID)), timeout: .milliseconds(200))
                }
                continue
            } catch let e as ClusterError {
                try? send(.cancel(Cancel(requestID: submit.requestID, reason: "client deadline")), timeout: .milliseconds(200))
                throw e
            }
            lastHeard = clock.now
            if case .statusReply(let reply) = m {
                // A reply to another request's probe (a reused client) says nothing about this one.
                guard reply.queriedRequestID != submit.requestID || reply.requestKnown else {
                    throw ClusterError.coordinatorLost(requestID: submit.requestID,
                                                       reason: "the coordinator at \(coordinator) no longer holds it (restarted or dropped it)")
                }
                if reply.queriedRequestID == submit.requestID, acknowledged == nil { acknowledged = clock.now - start }
                continue
            }
            // The coordinator answers a Submit it could not decode without a request id (it never
            // learned it): that is this client's request failing, at once, not at its deadline.
            if case .error(let e) = m, e.requestID == nil { throw ClusterError.remote(e) }
            guard m.requestID == submit.requestID else { continue }
            if acknowledged == nil { acknowledged = clock.now - start }
            switch m {
            case .tokenChunk(let chunk):
                let now = clock.now - start
                for _ in chunk.tokenIDs {
                    received += 1
                    if received == 1 { first = now } else if received == 2 { second = now }
                }
                onChunk(chunk)
            case .result(let result):
                return SubmitOutcome(result: result, clientTimeToFirstToken: first, clientTimeToSecondToken: second,
                                     clientTotal: clock.now - start)
            case .error(let e):
                throw ClusterError.remote(e)
            default:
                continue
            }
        }
    }

    private func send(_ message: Message, timeout: Duration) throws {
        try send(header: try message.encoded(), timeout: timeout)
    }

    private func send(header: [UInt8], timeout: Duration) throws {
        do {
            try socket.send(header: header, timeout: timeout)
        } catch TransportError.timedOut {
            // A CURVE handshake that fails (no key, an unknown key, the wrong server key) looks exactly
            // like an absent coordinator from here: say which keys were used.
            let keys = usesCurve ? "with CURVE keys: is this client's key authorized and --curve-server-key the coordinator's?"
                                 : "without CURVE keys: if the coordinator uses CURVE, pass --curve-secret-key and --curve-server-key"
            throw ClusterError.deadlineExceeded(operation: "connecting to the coordinator at \(coordinator) (\(keys))", after: timeout)
        }
    }

    private func receive(timeout: Duration, operation: String, total: Duration) throws -> Message {
        let m: ReceivedMessage
        do { m = try socket.receive(timeout: timeout) } catch TransportError.timedOut {
            throw ClusterError.deadlineExceeded(operation: operation, after: total)
        }
        return try Message.decode(frame: m.header)
    }
}
