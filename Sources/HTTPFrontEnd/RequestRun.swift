import Cluster
import Foundation

/// One generation request from the route's side: its ids, its event stream, and its metrics'
/// lifecycle. The lifecycle is explicit so each gauge moves exactly once per transition:
/// waiting (sent, no token yet) → running (first token) → ended (with an outcome), or waiting → ended.
final class RequestRun: @unchecked Sendable {
    enum Phase { case waiting, running, ended }

    let id: String
    let created = Int(Date().timeIntervalSince1970)
    let model: String
    let endpoint: Endpoint
    let arrival: ContinuousClock.Instant
    let cancel: RequestCancellation
    private let connection: ClientConnection?
    private let metrics: GatewayMetrics
    private let lock = NSLock()
    private var iterator: AsyncThrowingStream<ClusterEvent, any Error>.AsyncIterator
    private var phase = Phase.waiting
    private var lastTokenAt: ContinuousClock.Instant?
    private(set) var timeToFirstToken: Duration?

    init(endpoint: Endpoint, arrival: ContinuousClock.Instant, metrics: GatewayMetrics,
         events: AsyncThrowingStream<ClusterEvent, any Error>, cancel: RequestCancellation, model: String,
         connection: ClientConnection? = nil) {
        self.endpoint = endpoint
        self.connection = connection
        self.arrival = arrival
        self.metrics = metrics
        self.cancel = cancel
        self.model = model
        iterator = events.makeAsyncIterator()
        id = endpoint.idPrefix + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        metrics.waiting.increment()
        connection?.attach(cancel)
    }

    /// The next event, timing the tokens as they arrive (TTFT, then inter-token gaps spread over
    /// the tokens of a chunk). Only one task reads a run at a time.
    func next() async throws -> ClusterEvent? {
        var it = iterator
        defer { iterator = it }
        let event = try await it.next()
        if case .tokens(let t, let at) = event, !t.tokenIDs.isEmpty { recordTokens(t.tokenIDs.count, at: at) }
        return event
    }

    private func recordTokens(_ count: Int, at: ContinuousClock.Instant) {
        lock.lock()
        defer { lock.unlock() }
        if let last = lastTokenAt {
            let gap = (at - last) / count
            for _ in 0..<count { metrics.interTokenLatency.record(gap) }
        } else {
            timeToFirstToken = at - arrival
            metrics.timeToFirstToken.record(at - arrival)
            if phase == .waiting {
                phase = .running
                metrics.waiting.decrement()
                metrics.running.increment()
            }
            // Tokens after the first in the same chunk arrived together with it.
            for _ in 1..<count { metrics.interTokenLatency.record(.zero) }
        }
        lastTokenAt = at
    }

    /// Ends the run once: gauges back, the outcome counted, the end-to-end latency recorded.
    func end(outcome: String) {
        lock.lock()
        defer { lock.unlock() }
        switch phase {
        case .ended: return
        case .waiting: metrics.waiting.decrement()
        case .running: metrics.running.decrement()
        }
        phase = .ended
        connection?.detach(cancel)
        metrics.countRequest(endpoint: endpoint.rawValue, outcome: outcome)
        metrics.requestDuration.record(ContinuousClock.now - arrival)
    }

    deinit {
        // A run dropped without an end (a route that returned early) still frees its gauges.
        if phase != .ended {
            cancel.cancel("the gateway dropped the request")
            end(outcome: "cancelled")
        }
    }
}
