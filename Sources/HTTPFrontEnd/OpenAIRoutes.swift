import Checkpoints
import Cluster
import FastKV
import Foundation
import RequestVocabulary

/// The gateway's routes as plain async functions: `GET /v1/models`, `POST /v1/completions`,
/// `POST /v1/chat/completions` (both streaming or not), `GET /health`, `GET /ready`, `GET /metrics`.
///
/// Parsing happens here, at the edge (`RequestTranslator`); the coordinator tokenizes text prompts
/// and checks the prompt against the context, and its error codes become HTTP statuses
/// (`GatewayError`). A streamed response commits to 200 only once the first token has arrived, so
/// BUSY, a too-long prompt or a deadline before the first token are real 429/400/504 answers, not an
/// error inside an SSE stream.
public final class OpenAIRoutes: Sendable {
    public struct Configuration: Sendable {
        /// The cluster's deadline per request; the gateway waits this plus `clientSlack`.
        public var requestTimeout: Duration = .seconds(120)
        public var clientSlack: Duration = .seconds(5)
        /// Deadline of the status queries behind `/ready` and `/metrics`.
        public var statusTimeout: Duration = .milliseconds(500)
        /// How stale the background readiness may get before requests are refused 503.
        public var readinessMaxAge: Duration = .seconds(3)
        public init() {}
    }

    public let translator: RequestTranslator
    public let bridge: ClusterBridge
    public let metrics: GatewayMetrics
    public let configuration: Configuration
    private let readiness = ReadinessCache()
    private let startedUnix = Int(Date().timeIntervalSince1970)

    public init(translator: RequestTranslator, bridge: ClusterBridge, metrics: GatewayMetrics, configuration: Configuration) {
        self.translator = translator
        self.bridge = bridge
        self.metrics = metrics
        self.configuration = configuration
    }

    // MARK: probes and listings

    public func health() -> GatewayResponse {
        .json(200, Array(#"{"status":"ok"}"#.utf8))
    }

    /// Asks the coordinator now (not the cache): a probe should see the current table.
    public func ready() async -> GatewayResponse {
        let r = await queryReadiness()
        let body = #"{"status":"\#(r.isReady ? "ready" : "not_ready")","prefill_workers":\#(r.prefill),"decode_workers":\#(r.decode)}"#
        if r.isReady { return .json(200, Array(body.utf8)) }
        let e = GatewayError.unavailable(r.explanation)
        return .json(503, Array(body.utf8), headers: e.headers)
    }

    public func models() -> GatewayResponse {
        let body = #"{"object":"list","data":[{"id":"\#(translator.servedModel)","object":"model","created":\#(startedUnix),"owned_by":"fastkv","max_model_len":\#(translator.model.config.contextLength)}]}"#
        return .json(200, Array(body.utf8))
    }

    /// Prometheus text 0.0.4. The per-worker gauges come from a status query made now, with
    /// `statusTimeout` as its deadline (a dead coordinator sets `fastkv_coordinator_up` 0).
    public func scrape() async -> GatewayResponse {
        let start = ContinuousClock.now
        let rows = try? await bridge.workers(timeout: configuration.statusTimeout)
        metrics.scrapeDuration.set(to: (ContinuousClock.now - start).milliseconds / 1000)
        metrics.updateWorkers(rows)
        if let rows { readiness.set(Readiness(rows: rows)) }
        return GatewayResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                               body: .bytes(metrics.registry.emitToBuffer()))
    }

    public func notFound(_ path: String) -> GatewayResponse { .error(.notFound(path: path)) }

    /// A generation request refused before its body could be read (too large), counted like any other.
    public func refuse(_ e: GatewayError, endpoint: Endpoint) -> GatewayResponse {
        fail(e, endpoint: endpoint, arrival: .now)
    }

    /// One poll of the background readiness loop (`fastkv-http` runs it every half second).
    public func refreshReadiness() async {
        readiness.set(await queryReadiness())
    }

    private func queryReadiness() async -> Readiness {
        do {
            let r = Readiness(rows: try await bridge.workers(timeout: configuration.statusTimeout))
            readiness.set(r)
            return r
        } catch {
            return Readiness(failure: "\(error)")
        }
    }

    // MARK: generation

    /// `POST /v1/completions` or `POST /v1/chat/completions`. `connection`, when given, cancels the
    /// request in the cluster as soon as the client goes away, before or after its first token.
    public func generate(_ endpoint: Endpoint, body: [UInt8], connection: ClientConnection? = nil) async -> GatewayResponse {
        let arrival = ContinuousClock.now
        let translated: TranslatedRequest
        do {
            translated = try translator.translate(try OpenAIRequest.decode(body), endpoint: endpoint)
            let r = readiness.get(maxAge: configuration.readinessMaxAge)
            guard r.isReady else { throw GatewayError.unavailable("no workers ready: \(r.explanation)") }
        } catch {
            return fail(GatewayError(cluster: error), endpoint: endpoint, arrival: arrival)
        }
        let (events, cancel) = bridge.submit(translated.generation,
                                             clientTimeout: configuration.requestTimeout + configuration.clientSlack)
        let run = RequestRun(endpoint: endpoint, arrival: arrival, metrics: metrics, events: events, cancel: cancel,
                             model: translator.servedModel, connection: connection)
        if translated.stream {
            // Wait for the first token (or the error) before choosing the status.
            do {
                guard let first = try await run.next() else { throw GatewayError.internal("the cluster ended the request without a result") }
                return .init(status: 200, headers: [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")],
                             body: .stream { [self] write in await streamBody(run: run, first: first, request: translated, write: write) })
            } catch {
                return fail(GatewayError(cluster: error, cancelledBy: cancel), endpoint: endpoint, arrival: arrival, run: run)
            }
        }
        do {
            while let event = try await run.next() {
                guard case .finished(let outcome) = event else { continue }
                let text = outcome.result.text
                let envelope = ResponseEnvelope(
                    id: run.id, object: endpoint.object, created: run.created, model: run.model,
                    choices: [Choice(endpoint: endpoint, text: text, finishReason: outcome.result.finishReason.openAIName)],
                    usage: usage(outcome), fastkv: savings(outcome, translated, ttft: run.timeToFirstToken))
                finish(run, outcome: outcome, request: translated)
                return .json(200, try OpenAIJSON.encode(envelope))
            }
            throw GatewayError.internal("the cluster ended the request without a result")
        } catch {
            return fail(GatewayError(cluster: error, cancelledBy: cancel), endpoint: endpoint, arrival: arrival, run: run)
        }
    }

    /// Writes the SSE stream: the first event (already received), every later token, the final
    /// chunk with `finish_reason` and the savings, the usage chunk if asked, then `[DONE]`. A failed
    /// write means the client went away: the request is cancelled in the cluster, freeing its KV.
    private func streamBody(run: RequestRun, first: ClusterEvent, request: TranslatedRequest,
                            write: GatewayResponse.Write) async {
        let endpoint = request.endpoint
        func chunk(_ text: String?, role: String? = nil, finish: String? = nil, savings: KVSavings? = nil) throws -> [UInt8] {
            SSE.event(try OpenAIJSON.encode(ResponseEnvelope(
                id: run.id, object: endpoint.chunkObject, created: run.created, model: run.model,
                choices: [ChunkChoice(endpoint: endpoint, text: text, role: role, finishReason: finish)],
                usage: nil, fastkv: savings)))
        }
        var streamed = ""
        var event: ClusterEvent? = first
        do {
            if endpoint == .chatCompletions { try await write(try chunk("", role: "assistant")) }
            while let e = event {
                switch e {
                case .tokens(let t, _):
                    if !t.text.isEmpty {
                        streamed += t.text
                        try await write(try chunk(t.text))
                    }
                case .finished(let outcome):
                    // Text the worker flushed only into the result (none today) still reaches the client.
                    let rest = outcome.result.text.hasPrefix(streamed) ? String(outcome.result.text.dropFirst(streamed.count)) : ""
                    let s = savings(outcome, request, ttft: run.timeToFirstToken)
                    try await write(try chunk(rest.isEmpty ? (endpoint == .chatCompletions ? nil : "") : rest,
                                              finish: outcome.result.finishReason.openAIName, savings: s))
                    if request.includeUsage {
                        try await write(SSE.event(try OpenAIJSON.encode(ResponseEnvelope<ChunkChoice>(
                            id: run.id, object: endpoint.chunkObject, created: run.created, model: run.model,
                            choices: [], usage: usage(outcome), fastkv: nil))))
                    }
                    try await write(SSE.done)
                    finish(run, outcome: outcome, request: request)
                    return
                }
                event = try await run.next()
            }
            throw GatewayError.internal("the cluster ended the request without a result")
        } catch let e as GatewayWriteError {
            run.cancel.cancel("the HTTP client went away (\(e.underlying))")
            run.end(outcome: "cancelled")
        } catch {
            // After the 200: OpenAI's clients read an error object sent as an event.
            let g = GatewayError(cluster: error, cancelledBy: run.cancel)
            if case .clientGone = g {} else { try? await write(SSE.event(g.body)) }
            run.cancel.cancel("stream ended: \(g)")
            run.end(outcome: g.outcome)
        }
    }

    private func usage(_ o: SubmitOutcome) -> Usage {
        Usage(promptTokens: o.result.promptTokenCount, completionTokens: o.result.tokenIDs.count)
    }

    private func savings(_ o: SubmitOutcome, _ request: TranslatedRequest, ttft: Duration?) -> KVSavings {
        let report = SubmitReport(o, method: request.compression.method, wireDType: request.wireDType)
        let flops = prefillFlops(request.compression, promptLength: o.result.promptTokenCount)
        return KVSavings(method: report.method, wire_dtype: report.wire_dtype, wire_bytes: report.wire_bytes,
                         payload_bytes: report.payload_bytes, full_kv_wire_bytes: report.full_kv_wire_bytes,
                         wire_bytes_saved_share: report.wire_bytes_saved_share,
                         prefill_flops: flops?.spent, prefill_flops_skipped: flops.map { $0.full - $0.spent },
                         ttft_ms: ttft?.milliseconds, coordinator_ttft_ms: report.coordinator_ttft_ms,
                         prefill_ms: report.prefill_ms, transfer_ms: report.transfer_ms,
                         decode_tokens_per_s: report.decode_tokens_per_s, prefill_worker: report.prefill_worker,
                         decode_worker: report.decode_worker, breakdown: report.breakdown)
    }

    /// Analytic FLOPs of this request's prefill and of a full-KV one (nil for GemFilter).
    func prefillFlops(_ c: CompressionConfig, promptLength n: Int) -> (spent: Double, full: Double)? {
        let config = translator.model.config
        guard n > 0, let entering = KVPlan.enteringTokenCounts(config: c, promptLength: n, layerCount: config.layerCount) else { return nil }
        return (PrefillFlops.estimate(config: config, enteringTokens: entering),
                PrefillFlops.estimate(config: config, enteringTokens: Array(repeating: n, count: config.layerCount)))
    }

    private func finish(_ run: RequestRun, outcome: SubmitOutcome, request: TranslatedRequest) {
        let r = outcome.result
        metrics.promptTokens.increment(by: Int64(r.promptTokenCount))
        metrics.generationTokens.increment(by: Int64(r.tokenIDs.count))
        metrics.kvTransfer.record(r.timings.transfer)
        metrics.kvWireBytes.increment(by: Int64(r.wireBytes))
        metrics.kvPayloadBytes.increment(by: Int64(r.payloadBytes))
        metrics.kvFullEquivalentBytes.increment(by: Int64(r.fullKVWireBytes))
        if let f = prefillFlops(request.compression, promptLength: r.promptTokenCount) {
            metrics.prefillFlops.increment(by: f.spent)
            metrics.prefillFlopsSkipped.increment(by: max(0, f.full - f.spent))
        }
        run.end(outcome: "ok")
    }

    private func fail(_ e: GatewayError, endpoint: Endpoint, arrival: ContinuousClock.Instant, run: RequestRun? = nil) -> GatewayResponse {
        if let run {
            run.end(outcome: e.outcome)
        } else {
            metrics.countRequest(endpoint: endpoint.rawValue, outcome: e.outcome)
            metrics.requestDuration.record(ContinuousClock.now - arrival)
        }
        return .error(e)
    }
}

/// A write to the HTTP client failed: it disconnected. `fastkv-http` wraps its writer's errors in
/// this, so the stream can tell a gone client from a cluster error.
public struct GatewayWriteError: Error, Sendable {
    public var underlying: String
    public init(_ underlying: any Error) { self.underlying = "\(underlying)" }
}
