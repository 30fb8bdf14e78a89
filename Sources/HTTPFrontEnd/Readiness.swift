import Cluster
import Foundation

/// Whether the cluster can serve: at least one healthy prefill and one healthy decode worker in
/// the coordinator's table.
public struct Readiness: Sendable, Equatable {
    public var prefill: Int
    public var decode: Int
    /// Why it is not ready, when the coordinator did not answer.
    public var failure: String?

    public init(rows: [WorkerStatusRow]) {
        let healthy = rows.filter(\.isHealthy)
        prefill = healthy.filter { $0.role == "prefill" }.count
        decode = healthy.filter { $0.role == "decode" }.count
        failure = nil
    }

    public init(failure: String) {
        prefill = 0
        decode = 0
        self.failure = failure
    }

    public var isReady: Bool { failure == nil && prefill >= 1 && decode >= 1 }

    public var explanation: String {
        if let failure { return "the coordinator did not answer a status query: \(failure)" }
        return "\(prefill) healthy prefill and \(decode) healthy decode workers (at least one of each is needed)"
    }
}

/// The last readiness seen by the background poll, so a request is refused 503 without a status
/// round trip on its path.
final class ReadinessCache: @unchecked Sendable {
    private let lock = NSLock()
    private var value = Readiness(failure: "no status query answered yet")
    private var at = ContinuousClock.now

    func set(_ r: Readiness) {
        lock.lock()
        value = r
        at = .now
        lock.unlock()
    }

    /// The cached value, or not ready when it is older than `maxAge` (the poll itself stalled).
    func get(maxAge: Duration) -> Readiness {
        lock.lock()
        defer { lock.unlock() }
        return ContinuousClock.now - at <= maxAge ? value : Readiness(failure: "the last status answer is older than \(maxAge)")
    }
}
