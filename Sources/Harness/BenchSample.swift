import Foundation

/// One measured request (cluster or aggregated). Optional fields are absent where the mode has no
/// such stage (the aggregated path moves no KV) or the cluster did not report it.
public struct BenchSample: Sendable, Equatable {
    public var promptTokens: Int
    public var ttftMs: Double?
    public var prefillMs: Double?
    public var wireBytes: Int?
    public var headerBytes: Int?
    public var fullKVWireBytes: Int?
    public var transferMs: Double?
    public var secondTokenMs: Double?
    public var decodeTokensPerSecond: Double?
    public var endToEndMs: Double
    public var queueingMs: Double?
    public var prefillComputeMs: Double?
    public var kvEncodeMs: Double?
    public var wireMs: Double?
    public var installMs: Double?
    /// Prefill end → KV installed on the decode worker (submit's `breakdown.exposed_transfer_ms`).
    public var exposedTransferMs: Double?

    /// Reads one `fastkv submit --json` object. Tolerant: keys the cluster does not report stay nil,
    /// breakdown keys are accepted with or without the `_ms` suffix, and `wallMs` (the submit
    /// process's lifetime) stands in for a missing `total_ms`.
    public init(submitJSON data: Data, wallMs: Double) throws(HarnessError) {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw .badSubmitOutput("not a JSON object")
        }
        func double(_ o: [String: Any], _ keys: String...) -> Double? {
            for k in keys { if let n = o[k] as? NSNumber { return n.doubleValue } }
            return nil
        }
        guard let tokens = double(object, "prompt_tokens") else { throw .badSubmitOutput("no prompt_tokens") }
        promptTokens = Int(tokens)
        ttftMs = double(object, "ttft_ms", "coordinator_ttft_ms")
        prefillMs = double(object, "prefill_ms")
        wireBytes = double(object, "wire_bytes").map { Int($0) }
        headerBytes = double(object, "header_bytes").map { Int($0) }
        fullKVWireBytes = double(object, "full_kv_wire_bytes").map { Int($0) }
        transferMs = double(object, "transfer_ms")
        secondTokenMs = double(object, "time_to_second_token_ms")
        decodeTokensPerSecond = double(object, "decode_tokens_per_s")
        endToEndMs = double(object, "total_ms") ?? wallMs
        let b = object["breakdown"] as? [String: Any] ?? [:]
        queueingMs = double(b, "queueing_ms", "queueing")
        prefillComputeMs = double(b, "prefill_compute_ms", "prefill_compute")
        kvEncodeMs = double(b, "kv_encode_ms", "kv_encode")
        wireMs = double(b, "wire_ms", "wire")
        installMs = double(b, "install_ms", "install")
        exposedTransferMs = double(b, "exposed_transfer_ms", "exposed_transfer")
    }

    /// An aggregated request: prefill and decode in this process, so prefill is all compute.
    public init(promptTokens: Int, ttftMs: Double, prefillMs: Double, secondTokenMs: Double?,
                decodeTokensPerSecond: Double, endToEndMs: Double) {
        self.promptTokens = promptTokens
        self.ttftMs = ttftMs
        self.prefillMs = prefillMs
        self.secondTokenMs = secondTokenMs
        self.decodeTokensPerSecond = decodeTokensPerSecond
        self.endToEndMs = endToEndMs
        prefillComputeMs = prefillMs
    }
}
