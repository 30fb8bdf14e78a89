import Cluster
import Foundation
@testable import HTTPFrontEnd
import Prometheus
import RequestVocabulary
import Testing
import Wire

private func object(_ bytes: [UInt8]) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
}

@Suite struct ResponseAndErrorTests {
    @Test func clusterErrorsMapToOpenAIStatuses() {
        func mapped(_ code: ErrorCode) -> GatewayError {
            GatewayError(cluster: ClusterError.remote(ErrorReport(requestID: 1, code: code, message: "m")))
        }
        #expect(mapped(.badRequest).status == 400)
        #expect(mapped(.busy).status == 429)
        #expect(mapped(.busy).headers.contains { $0 == ("Retry-After", "1") })
        #expect(mapped(.deadlineExceeded).status == 504)
        #expect(mapped(.workerLost).status == 503)
        #expect(mapped(.internal).status == 500 && mapped(.malformed).status == 500 && mapped(.modelMismatch).status == 500)
        #expect(GatewayError(cluster: ClusterError.deadlineExceeded(operation: "request 1", after: .seconds(2))).status == 504)
        #expect(GatewayError(cluster: CocoaError(.fileNoSuchFile)).status == 500)
        #expect(GatewayError.unavailable("x").headers.contains { $0 == ("Retry-After", "1") })
    }

    @Test func errorBodyIsOpenAIsErrorObject() throws {
        let e = GatewayError.invalidRequest("temperature must be ≥ 0", param: "temperature")
        let inner = try #require(try object(e.body)["error"] as? [String: Any])
        #expect(inner["message"] as? String == "temperature must be ≥ 0")
        #expect(inner["type"] as? String == "invalid_request_error")
        #expect(inner["param"] as? String == "temperature")
        #expect(inner["code"] is NSNull, "code is sent as an explicit null")
        let busy = try #require(try object(GatewayError.busy("BUSY: full").body)["error"] as? [String: Any])
        #expect(busy["type"] as? String == "rate_limit_error" && busy["code"] as? String == "busy")
    }

    @Test func chunksCarryIndexNullsAndTheRightObject() throws {
        let chunk = ResponseEnvelope(id: "chatcmpl-1", object: Endpoint.chatCompletions.chunkObject, created: 1, model: "m",
                                     choices: [ChunkChoice(endpoint: .chatCompletions, text: "Hi", role: "assistant", finishReason: nil)],
                                     usage: nil, fastkv: nil)
        let o = try object(try OpenAIJSON.encode(chunk))
        #expect(o["object"] as? String == "chat.completion.chunk")
        let choice = try #require((o["choices"] as? [[String: Any]])?.first)
        #expect(choice["index"] as? Int == 0)
        #expect(choice["finish_reason"] is NSNull && choice["logprobs"] is NSNull)
        #expect((choice["delta"] as? [String: Any])?["content"] as? String == "Hi")
        #expect((choice["delta"] as? [String: Any])?["role"] as? String == "assistant")
        #expect(o["usage"] == nil, "usage only on the usage chunk")

        let done = ResponseEnvelope(id: "cmpl-1", object: Endpoint.completions.object, created: 1, model: "m",
                                    choices: [Choice(endpoint: .completions, text: "x", finishReason: "length")],
                                    usage: Usage(promptTokens: 3, completionTokens: 2), fastkv: nil)
        let d = try object(try OpenAIJSON.encode(done))
        #expect(d["object"] as? String == "text_completion")
        #expect((d["choices"] as? [[String: Any]])?.first?["text"] as? String == "x")
        #expect((d["usage"] as? [String: Any])?["total_tokens"] as? Int == 5)
    }

    @Test func sseFraming() {
        #expect(String(decoding: SSE.event(Array(#"{"a":1}"#.utf8)), as: UTF8.self) == "data: {\"a\":1}\n\n")
        #expect(String(decoding: SSE.done, as: UTF8.self) == "data: [DONE]\n\n")
    }

    @Test func metricNamesFollowPrometheusConventions() throws {
        let metrics = GatewayMetrics()
        metrics.countRequest(endpoint: "completions", outcome: "ok")
        metrics.timeToFirstToken.record(.milliseconds(30))
        metrics.kvPayloadBytes.increment(by: Int64(10))
        let text = metrics.registry.emitToString()
        for line in text.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            let (name, type) = (parts[2], parts[3])
            switch type {
            case "counter": #expect(name.hasSuffix("_total"), "\(line)")
            case "histogram": #expect(name.hasSuffix("_seconds"), "\(line)")
            default: break
            }
        }
        #expect(text.contains(#"fastkv_http_requests_total{endpoint="completions",outcome="ok"} 1"#), "\(text)")
        #expect(text.contains(#"fastkv_time_to_first_token_seconds_bucket{le="0.05"} 1"#), "\(text)")
        #expect(text.contains("# HELP fastkv_kv_payload_bytes_total"))
    }

    @Test func readinessNeedsAPrefillAndADecodeWorker() {
        #expect(!Readiness(rows: []).isReady)
        #expect(!Readiness(failure: "down").isReady)
        #expect(Readiness(failure: "down").explanation.contains("did not answer"))
    }
}
