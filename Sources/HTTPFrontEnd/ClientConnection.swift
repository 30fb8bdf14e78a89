import Cluster
import Foundation

/// The HTTP client's connection as the routes see it: the server marks it gone when the client
/// closes or resets it, and the request running on it (one at a time on HTTP/1.1) is cancelled in
/// the cluster, which frees its KV on the decode worker.
///
/// Why the routes need this and not only a failed write: a non-streamed request writes nothing
/// until it has finished, and a streamed one nothing before its first token, so without it a
/// client that gave up (a timeout, Ctrl-C) would leave its request prefilling and decoding up to
/// `max_tokens` for nobody — the leak vLLM's users report for non-streamed requests.
public final class ClientConnection: @unchecked Sendable {
    private let lock = NSLock()
    private var goneReason: String?
    private var running: RequestCancellation?

    public init() {}

    /// The connection is gone (input closed or the channel inactive). Idempotent; the first reason wins.
    public func markGone(_ reason: String) {
        lock.lock()
        if goneReason == nil { goneReason = reason }
        let current = running
        lock.unlock()
        current?.cancel(reason)
    }

    /// The request now running on this connection; cancelled at once if the client already left.
    func attach(_ cancel: RequestCancellation) {
        lock.lock()
        running = cancel
        let reason = goneReason
        lock.unlock()
        if let reason { cancel.cancel(reason) }
    }

    /// The request ended: a later disconnect concerns nothing it holds.
    func detach(_ cancel: RequestCancellation) {
        lock.lock()
        if running === cancel { running = nil }
        lock.unlock()
    }
}
