import RequestVocabulary
import Foundation

/// A FIFO handed between threads (ZeroMQ sockets are single-thread objects, so work moves between an
/// I/O thread and a compute thread through this, never through a shared socket). Every wait has a
/// deadline.
public final class LockedQueue<Element: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Element] = []

    public init() {}

    public func push(_ item: Element) {
        condition.lock()
        items.append(item)
        condition.signal()
        condition.unlock()
    }

    /// Everything queued now, waiting at most `timeout` for the first item (empty on timeout).
    public func popAll(waitingUpTo timeout: Duration) -> [Element] {
        condition.lock()
        defer { condition.unlock() }
        if items.isEmpty && timeout > .zero {
            let seconds = timeout.seconds
            _ = condition.wait(until: Date(timeIntervalSinceNow: seconds))
        }
        let out = items
        items.removeAll()
        return out
    }

    /// The first item, waiting at most `timeout`.
    public func pop(waitingUpTo timeout: Duration) -> Element? {
        condition.lock()
        defer { condition.unlock() }
        if items.isEmpty && timeout > .zero {
            let seconds = timeout.seconds
            _ = condition.wait(until: Date(timeIntervalSinceNow: seconds))
        }
        return items.isEmpty ? nil : items.removeFirst()
    }

    public var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return items.count
    }
}
