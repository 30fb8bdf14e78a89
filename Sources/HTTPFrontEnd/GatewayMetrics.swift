import Cluster
import Foundation
import Prometheus

/// The gateway's Prometheus metrics, made through the registry API so each has help text, an
/// explicit unit suffix (`_total`, `_seconds`, `_bytes`) and chosen buckets. (Hummingbird's
/// MetricsMiddleware is not used: its counters lack `_total`.) Bytes saved by compression is one
/// PromQL expression: `fastkv_kv_full_equivalent_bytes_total - fastkv_kv_payload_bytes_total`.
public final class GatewayMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let timeToFirstToken: DurationHistogram
    let interTokenLatency: DurationHistogram
    let requestDuration: DurationHistogram
    let kvTransfer: DurationHistogram
    let promptTokens: Counter
    let generationTokens: Counter
    let waiting: Gauge
    let running: Gauge
    let kvWireBytes: Counter
    let kvPayloadBytes: Counter
    let kvFullEquivalentBytes: Counter
    let prefillFlops: Counter
    let prefillFlopsSkipped: Counter
    let scrapeDuration: Gauge
    private let workerGauges = WorkerGauges()

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "fastkv", metricName: metric, unitName: unit, helpText: help)
    }

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        func seconds(_ values: [Double]) -> [Duration] { values.map { .microseconds(Int64(($0 * 1e6).rounded())) } }
        timeToFirstToken = registry.makeDurationHistogram(
            descriptor: Self.name("time_to_first_token", "seconds", "Time from the request's arrival at the gateway to its first generated token."),
            buckets: seconds([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]))
        interTokenLatency = registry.makeDurationHistogram(
            descriptor: Self.name("inter_token_latency", "seconds", "Time between consecutive generated tokens as the gateway receives them."),
            buckets: seconds([0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.1, 0.25, 0.5, 1]))
        requestDuration = registry.makeDurationHistogram(
            descriptor: Self.name("request_duration", "seconds", "End-to-end latency of a generation request at the gateway, errors included."),
            buckets: seconds([0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]))
        kvTransfer = registry.makeDurationHistogram(
            descriptor: Self.name("kv_transfer", "seconds", "KV transfer time from the prefill to the decode worker (coordinator's timings)."),
            buckets: seconds([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5]))
        promptTokens = registry.makeCounter(descriptor: Self.name("prompt_tokens", "total", "Prompt tokens of finished requests."))
        generationTokens = registry.makeCounter(descriptor: Self.name("generation_tokens", "total", "Tokens generated for finished requests."))
        waiting = registry.makeGauge(descriptor: Self.name("requests_waiting", "", "Requests sent to the cluster that have no token yet."))
        running = registry.makeGauge(descriptor: Self.name("requests_running", "", "Requests decoding (first token received, not finished)."))
        kvWireBytes = registry.makeCounter(descriptor: Self.name("kv_wire_bytes", "total", "Bytes sent for KV transfers, envelope headers included."))
        kvPayloadBytes = registry.makeCounter(descriptor: Self.name("kv_payload_bytes", "total", "KV payload bytes sent (compressed KV)."))
        kvFullEquivalentBytes = registry.makeCounter(descriptor: Self.name("kv_full_equivalent_bytes", "total",
            "KV payload bytes an uncompressed transfer of the same requests would have sent."))
        prefillFlops = registry.makeCounter(descriptor: Self.name("prefill_flops", "total", "Analytic prefill FLOPs spent (GemFilter requests excluded)."))
        prefillFlopsSkipped = registry.makeCounter(descriptor: Self.name("prefill_flops_skipped", "total",
            "Analytic prefill FLOPs a full-KV prefill would have spent beyond what was spent (TSP; GemFilter excluded)."))
        scrapeDuration = registry.makeGauge(descriptor: Self.name("metrics_status_query_duration", "seconds",
            "How long the last scrape's cluster status query took."))
    }

    /// `fastkv_http_requests_total{endpoint, outcome}`.
    func countRequest(endpoint: String, outcome: String) {
        registry.makeCounter(descriptor: Self.name("http_requests", "total", "HTTP requests by endpoint and outcome."),
                             labels: [("endpoint", endpoint), ("outcome", outcome)]).increment()
    }

    /// Sets the per-worker gauges from a status query and drops those of workers that left.
    func updateWorkers(_ rows: [WorkerStatusRow]?) {
        workerGauges.update(rows, registry: registry)
    }
}

/// Per-worker gauges (`fastkv_worker_healthy`, `fastkv_worker_free_kv_bytes`), keyed by role and id.
/// A worker that is no longer in the table is unregistered, so a scrape shows only live workers.
final class WorkerGauges: @unchecked Sendable {
    private let lock = NSLock()
    private var gauges: [String: (healthy: Gauge, freeKV: Gauge)] = [:]
    private var up: Gauge?

    func update(_ rows: [WorkerStatusRow]?, registry: PrometheusCollectorRegistry) {
        lock.lock()
        defer { lock.unlock() }
        if up == nil {
            up = registry.makeGauge(descriptor: GatewayMetrics.name("coordinator_up", "", "1 when the last scrape's status query to the coordinator succeeded."))
        }
        up?.set(to: rows == nil ? 0 : 1)
        var seen: Set<String> = []
        for row in rows ?? [] {
            let key = "\(row.role)/\(row.id)"
            seen.insert(key)
            let labels = [("role", row.role), ("worker", "\(row.id)")]
            let g = gauges[key] ?? (
                registry.makeGauge(descriptor: GatewayMetrics.name("worker_healthy", "", "1 when the worker is healthy in the coordinator's table."), labels: labels),
                registry.makeGauge(descriptor: GatewayMetrics.name("worker_free_kv", "bytes", "KV bytes the worker can still reserve (decode workers)."), labels: labels))
            gauges[key] = g
            g.healthy.set(to: row.isHealthy ? 1 : 0)
            g.freeKV.set(to: Double(row.free_kv_bytes))
        }
        // Without a table (the coordinator did not answer) the last values stay, with coordinator_up 0.
        guard rows != nil else { return }
        for (key, g) in gauges where !seen.contains(key) {
            registry.unregisterGauge(g.healthy)
            registry.unregisterGauge(g.freeKV)
            gauges[key] = nil
        }
    }
}
