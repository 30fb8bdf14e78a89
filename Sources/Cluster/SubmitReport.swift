import Foundation
import RequestVocabulary
import Wire

/// The machine-readable outcome of one cluster request (`fastkv submit --json`; keys are part of the
/// CLI contract). Latencies: `ttft_ms`
/// and `time_to_second_token_ms` are the client's own clock from sending Submit; the per-stage
/// `breakdown` comes from the workers' timestamps carried in StageTimes.
public struct SubmitReport: Encodable, Sendable {
    public struct Breakdown: Encodable, Sendable {
        public var queueing_ms: Double?
        public var prefill_compute_ms: Double?
        public var kv_encode_ms: Double?
        public var wire_ms: Double?
        public var install_ms: Double?
        public var decode_ms: Double?
        /// KV transfer left on the TTFT path after prefill compute ended (KV installed on the decode
        /// worker − prefill end, two workers' clocks): with per-layer pipelining most of the transfer
        /// overlaps compute, and this is the rest.
        public var exposed_transfer_ms: Double?
    }

    public var text: String
    public var tokens: [Int32]
    public var finish_reason: String
    public var prompt_tokens: Int
    public var method: String
    public var wire_dtype: String
    public var ttft_ms: Double?
    public var coordinator_ttft_ms: Double
    public var time_to_second_token_ms: Double?
    public var prefill_ms: Double
    public var transfer_ms: Double
    public var decode_tokens_per_s: Double
    public var wire_bytes: Int
    public var payload_bytes: Int
    public var header_bytes: Int
    public var full_kv_wire_bytes: Int
    public var wire_bytes_saved_share: Double
    public var prefill_worker: UInt64
    public var decode_worker: UInt64
    public var total_ms: Double
    public var breakdown: Breakdown

    public init(_ o: SubmitOutcome, method: CompressionMethod, wireDType: WireDType) {
        let r = o.result
        let s = r.timings.stages
        text = r.text
        tokens = r.tokenIDs
        finish_reason = r.finishReason.rawValue
        prompt_tokens = r.promptTokenCount
        self.method = method.rawValue
        wire_dtype = wireDType.rawValue
        ttft_ms = o.clientTimeToFirstToken?.milliseconds
        coordinator_ttft_ms = r.timings.timeToFirstToken.milliseconds
        time_to_second_token_ms = o.clientTimeToSecondToken?.milliseconds
        prefill_ms = r.timings.prefill.milliseconds
        transfer_ms = r.timings.transfer.milliseconds
        decode_tokens_per_s = r.timings.decodeTokensPerSecond
        wire_bytes = r.wireBytes
        payload_bytes = r.payloadBytes
        header_bytes = r.wireBytes - r.payloadBytes
        full_kv_wire_bytes = r.fullKVWireBytes
        wire_bytes_saved_share = r.fullKVWireBytes > 0 ? max(0, 1 - Double(r.payloadBytes) / Double(r.fullKVWireBytes)) : 0
        prefill_worker = r.prefillWorkerID
        decode_worker = r.decodeWorkerID
        total_ms = o.clientTotal.milliseconds
        breakdown = Breakdown(
            queueing_ms: UnixTime.millis(from: s.receivedUnixMicros, to: s.assignedUnixMicros),
            prefill_compute_ms: UnixTime.millis(from: s.prefillStartUnixMicros, to: s.prefillEndUnixMicros),
            kv_encode_ms: UnixTime.millis(from: s.prefillEndUnixMicros, to: s.kvEncodedUnixMicros) ?? 0,
            wire_ms: UnixTime.millis(from: s.kvSentUnixMicros, to: s.kvReceivedUnixMicros),
            install_ms: UnixTime.millis(from: s.kvReceivedUnixMicros, to: s.kvInstalledUnixMicros),
            decode_ms: UnixTime.millis(from: s.firstTokenUnixMicros, to: s.finishedUnixMicros),
            exposed_transfer_ms: UnixTime.millis(from: s.prefillEndUnixMicros,
                                                 to: s.kvInstalledUnixMicros ?? s.kvReceivedUnixMicros))
    }

    public var summary: String {
        func ms(_ v: Double?) -> String { v.map { String(format: "%.1f ms", $0) } ?? "n/a" }
        return """
        [cluster] \(method) (\(wire_dtype) on the wire) | prompt \(prompt_tokens) tokens | prefill worker \(prefill_worker) → decode worker \(decode_worker)
        [latency] TTFT \(ms(ttft_ms)) | 2nd token \(ms(time_to_second_token_ms)) | prefill \(ms(prefill_ms)) | KV transfer \(ms(transfer_ms)) | decode \(String(format: "%.1f", decode_tokens_per_s)) tok/s
        [kv] wire \(wire_bytes) B (payload \(payload_bytes) + headers \(header_bytes)) vs full KV \(full_kv_wire_bytes) B: \(String(format: "%.1f%%", 100 * wire_bytes_saved_share)) fewer payload bytes
        [stages] queue \(ms(breakdown.queueing_ms)) | prefill compute \(ms(breakdown.prefill_compute_ms)) | KV encode after prefill \(ms(breakdown.kv_encode_ms)) | wire (KVEnd) \(ms(breakdown.wire_ms)) | transfer after prefill \(ms(breakdown.exposed_transfer_ms)) | install \(ms(breakdown.install_ms))
        """
    }

    public func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
