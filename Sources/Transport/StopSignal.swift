import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A flag another thread raises to end an I/O loop. Every blocking wait in this module that takes a
/// `StopSignal` checks it at least every `SocketOptions.stopCheckInterval` (20 ms by default) and
/// returns `.stopped`, so a loop ends promptly without closing sockets from the wrong thread.
public final class StopSignal: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    /// Raise the flag (any thread, idempotent).
    public func stop() { flag.store(true, ordering: .releasing) }

    public var isStopped: Bool { flag.load(ordering: .acquiring) }

    /// Waits (polling every few milliseconds) until the flag is raised or `limit` passes; true when raised.
    @discardableResult
    public func wait(upTo limit: Duration) -> Bool {
        let clock = ContinuousClock()
        let end = clock.now + limit
        while !isStopped {
            guard clock.now < end else { return false }
            usleep(5_000)
        }
        return true
    }
}
