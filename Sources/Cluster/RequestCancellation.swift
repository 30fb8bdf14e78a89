import Foundation

/// A cancellation reason set by one thread and polled by another: the HTTP gateway sets it when its
/// client disconnects, and the thread waiting in `ClusterClient.submit` — the only one allowed to use
/// that client's socket — sends the Cancel. The first reason wins.
public final class RequestCancellation: @unchecked Sendable {
    private let lock = NSLock()
    private var storedReason: String?

    public init() {}

    public func cancel(_ reason: String) {
        lock.lock()
        if storedReason == nil { storedReason = reason }
        lock.unlock()
    }

    /// nil until cancelled.
    public var reason: String? {
        lock.lock()
        defer { lock.unlock() }
        return storedReason
    }
}
