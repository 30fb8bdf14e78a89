import Cluster
import Foundation
import RequestVocabulary

/// What a request's cluster side reports to the route serving it.
public enum ClusterEvent: Sendable {
    /// Tokens decoded, with the gateway's clock when they arrived.
    case tokens(StreamedTokens, at: ContinuousClock.Instant)
    case finished(SubmitOutcome)
}

/// The gateway's link to the coordinator: `ClusterClient`s run on threads of their own, bridged to
/// async code.
///
/// Why threads: `ClusterClient` blocks in ZeroMQ receives (with deadlines), and Swift's cooperative
/// pool has one thread per core — two here — so a blocking call there would stall every other
/// request. Each running request holds one client (a ZeroMQ socket is single-threaded) on one
/// thread; finished clients go back to a pool, so a steady load reuses sockets and connections.
/// Status queries have a client of their own, so a reply to a cancelled request can never be read
/// as a status error.
public final class ClusterBridge: @unchecked Sendable {
    public let coordinator: String
    private let lock = NSLock()
    private var idle: [ClusterClient] = []
    private let statusClient: ClusterClient
    private let statusLock = NSLock()
    /// Idle clients kept for reuse; more are closed when they come back.
    private let maxIdle = 256

    /// CURVE for every client connection (nil = plain).
    public let curve: CurveCredentials?

    public init(coordinator: String, curve: CurveCredentials? = nil) throws {
        self.coordinator = coordinator
        self.curve = curve
        statusClient = try ClusterClient(coordinator: coordinator, curve: curve)
    }

    /// Starts `request` on a thread of its own and returns its events. The returned handle cancels
    /// it in the cluster (which frees its KV) — call it when the HTTP client goes away; the
    /// stream then ends with `ClusterError.cancelled`.
    public func submit(_ request: GenerationRequest, clientTimeout: Duration)
        -> (events: AsyncThrowingStream<ClusterEvent, any Error>, cancel: RequestCancellation) {
        let handle = RequestCancellation()
        let (stream, continuation) = AsyncThrowingStream<ClusterEvent, any Error>.makeStream()
        // If the consumer stops listening without saying why (its task was cancelled), that is a
        // disconnect too.
        continuation.onTermination = { termination in
            if case .cancelled = termination { handle.cancel("the HTTP client went away") }
        }
        let thread = Thread { [self] in
            do {
                let client = try checkOut()
                defer { checkIn(client) }
                let outcome = try client.submit(request, clientTimeout: clientTimeout, cancellation: handle) { tokens in
                    continuation.yield(.tokens(tokens, at: .now))
                }
                continuation.yield(.finished(outcome))
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        thread.name = "cluster-request"
        thread.start()
        return (stream, handle)
    }

    /// The coordinator's worker table, asked on a thread of its own with a short deadline.
    public func workers(timeout: Duration) async throws -> [WorkerStatusRow] {
        try await withCheckedThrowingContinuation { (k: CheckedContinuation<[WorkerStatusRow], any Error>) in
            let thread = Thread { [self] in
                statusLock.lock()
                defer { statusLock.unlock() }
                k.resume(with: Result { try statusClient.workers(timeout: timeout) })
            }
            thread.name = "cluster-status"
            thread.start()
        }
    }

    private func checkOut() throws -> ClusterClient {
        lock.lock()
        let reused = idle.popLast()
        lock.unlock()
        return try reused ?? ClusterClient(coordinator: coordinator, curve: curve)
    }

    private func checkIn(_ client: ClusterClient) {
        lock.lock()
        if idle.count < maxIdle { idle.append(client) }
        lock.unlock()
    }
}

