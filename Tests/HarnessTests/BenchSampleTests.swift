import Foundation
import Harness
import Testing

@Suite struct BenchSampleTests {
    @Test func readsEverySubmitKey() throws {
        let json = """
        {"prompt_tokens": 300, "ttft_ms": 120.5, "prefill_ms": 100, "wire_bytes": 2304000, "header_bytes": 900,
         "full_kv_wire_bytes": 2303100, "transfer_ms": 40.25, "time_to_second_token_ms": 150, "decode_tokens_per_s": 33.3,
         "total_ms": 400, "text": "ignored",
         "breakdown": {"queueing_ms": 1.5, "prefill_compute_ms": 98, "kv_encode_ms": 0, "wire_ms": 2.5,
                       "install_ms": 0.25, "exposed_transfer_ms": 3.75}}
        """
        let s = try BenchSample(submitJSON: Data(json.utf8), wallMs: 999)
        #expect(s.promptTokens == 300 && s.ttftMs == 120.5 && s.prefillMs == 100)
        #expect(s.wireBytes == 2_304_000 && s.headerBytes == 900 && s.fullKVWireBytes == 2_303_100)
        #expect(s.transferMs == 40.25 && s.secondTokenMs == 150 && s.decodeTokensPerSecond == 33.3)
        #expect(s.endToEndMs == 400, "total_ms wins over the wall time")
        #expect(s.queueingMs == 1.5 && s.prefillComputeMs == 98 && s.kvEncodeMs == 0 && s.wireMs == 2.5)
        #expect(s.installMs == 0.25 && s.exposedTransferMs == 3.75)
    }

    @Test func acceptsTheOlderSpellingsAndLeavesMissingKeysNil() throws {
        let json = #"{"prompt_tokens": 10, "coordinator_ttft_ms": 7, "breakdown": {"queueing": 1, "wire": 2, "exposed_transfer": 3}}"#
        let s = try BenchSample(submitJSON: Data(json.utf8), wallMs: 55.5)
        #expect(s.ttftMs == 7 && s.queueingMs == 1 && s.wireMs == 2 && s.exposedTransferMs == 3)
        #expect(s.endToEndMs == 55.5, "no total_ms: the process's wall time")
        #expect(s.prefillMs == nil && s.wireBytes == nil && s.secondTokenMs == nil && s.installMs == nil)
    }

    @Test(arguments: [
        ("", "not a JSON object"), ("[1, 2]", "not a JSON object"), ("{\"prompt_tokens\": ", "not a JSON object"),
        ("{\"ttft_ms\": 1}", "no prompt_tokens"), ("{\"prompt_tokens\": \"300\"}", "no prompt_tokens"),
    ])
    func unusableOutputIsAnError(text: String, reason: String) {
        #expect(throws: HarnessError.badSubmitOutput(reason)) { try BenchSample(submitJSON: Data(text.utf8), wallMs: 1) }
        #expect(HarnessError.badSubmitOutput(reason).description == "fastkv submit printed unusable output: \(reason)")
    }

    @Test func anAggregatedSampleCountsPrefillAsCompute() {
        let s = BenchSample(promptTokens: 5, ttftMs: 12, prefillMs: 10, secondTokenMs: nil, decodeTokensPerSecond: 20,
                            endToEndMs: 30)
        #expect(s.prefillComputeMs == 10 && s.wireBytes == nil && s.exposedTransferMs == nil && s.queueingMs == nil)
    }
}
