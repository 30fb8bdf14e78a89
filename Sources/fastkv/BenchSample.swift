import Foundation

/// One measured request (cluster or aggregated). Optional fields are absent where the mode has no
/// such stage (the aggregated path moves no KV) or the cluster did not report it.
struct BenchSample: Sendable {
    var promptTokens: Int
    var ttftMs: Double?
    var prefillMs: Double?
    var wireBytes: Int?
    var headerBytes: Int?
    var fullKVWireBytes: Int?
    var transferMs: Double?
    var secondTokenMs: Double?
    var decodeTokensPerSecond: Double?
    var endToEndMs: Double
    var queueingMs: Double?
    var prefillComputeMs: Double?
    var kvEncodeMs: Double?
    var wireMs: Double?
    var installMs: Double?
    /// Prefill end → KV installed on the decode worker (submit's `breakdown.exposed_transfer_ms`).
    var exposedTransferMs: Double?

    /// Reads one `fastkv submit --json` object. Tolerant: keys the cluster does not report stay nil,
    /// breakdown keys are accepted with or without the `_ms` suffix.
    init(submitJSON data: Data, wallMs: Double) throws {
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw BenchError.badSubmitOutput("not a JSON object")
        }
        func double(_ o: [String: Any], _ keys: String...) -> Double? {
            for k in keys { if let n = o[k] as? NSNumber { return n.doubleValue } }
            return nil
        }
        guard let tokens = double(object, "prompt_tokens") else { throw BenchError.badSubmitOutput("no prompt_tokens") }
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

    init(promptTokens: Int, ttftMs: Double, prefillMs: Double, secondTokenMs: Double?, decodeTokensPerSecond: Double,
         endToEndMs: Double) {
        self.promptTokens = promptTokens
        self.ttftMs = ttftMs
        self.prefillMs = prefillMs
        self.secondTokenMs = secondTokenMs
        self.decodeTokensPerSecond = decodeTokensPerSecond
        self.endToEndMs = endToEndMs
        prefillComputeMs = prefillMs
    }
}

enum BenchError: Error, CustomStringConvertible {
    case badSubmitOutput(String)
    case submitFailed(status: Int32, stderr: String)
    case io(String)

    var description: String {
        switch self {
        case let .badSubmitOutput(m): "fastkv submit printed unusable output: \(m)"
        case let .submitFailed(status, stderr): "fastkv submit exited with status \(status): \(stderr)"
        case let .io(m): m
        }
    }
}

/// Nearest-rank percentile (p in 0...1) of the non-nil values; nil when there are none.
func percentile(_ values: [Double?], _ p: Double) -> Double? {
    let s = values.compactMap { $0 }.sorted()
    guard !s.isEmpty else { return nil }
    let rank = max(1, Int((p * Double(s.count)).rounded(.up)))
    return s[min(s.count, rank) - 1]
}
