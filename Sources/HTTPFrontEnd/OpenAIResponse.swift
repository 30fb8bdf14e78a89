import Cluster
import Foundation
import RequestVocabulary

/// OpenAI's `usage` object.
public struct Usage: Sendable, Encodable, Equatable {
    public var prompt_tokens: Int
    public var completion_tokens: Int
    public var total_tokens: Int

    public init(promptTokens: Int, completionTokens: Int) {
        prompt_tokens = promptTokens
        completion_tokens = completionTokens
        total_tokens = promptTokens + completionTokens
    }
}

/// fastkv's extension object on the final response or chunk (`"fastkv": {…}`): what compression
/// saved and where the time to first token went. Built from `SubmitReport`, so its numbers are the
/// ones `fastkv submit --json` prints for the same request.
public struct KVSavings: Sendable, Encodable {
    public var method: String
    public var wire_dtype: String
    public var wire_bytes: Int
    public var payload_bytes: Int
    public var full_kv_wire_bytes: Int
    public var wire_bytes_saved_share: Double
    /// Analytic prefill FLOPs (`PrefillFlops`) of this request and of a full-KV prefill of the same
    /// prompt; nil for GemFilter, whose two passes the plan does not describe.
    public var prefill_flops: Double?
    public var prefill_flops_skipped: Double?
    /// The gateway's own clock, from the request's arrival to its first token.
    public var ttft_ms: Double?
    /// The coordinator's clock, from Submit to the first token.
    public var coordinator_ttft_ms: Double
    public var prefill_ms: Double
    public var transfer_ms: Double
    public var decode_tokens_per_s: Double
    public var prefill_worker: UInt64
    public var decode_worker: UInt64
    public var breakdown: SubmitReport.Breakdown
}

/// One choice of a non-streaming response; `text` for completions, `message` for chat.
struct Choice: Encodable {
    var endpoint: Endpoint
    var text: String
    var finishReason: String?

    enum CodingKeys: String, CodingKey { case index, text, message, logprobs, finish_reason }
    struct Message: Encodable { var role = "assistant"; var content: String }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(0, forKey: .index)
        if endpoint == .completions { try c.encode(text, forKey: .text) } else { try c.encode(Message(content: text), forKey: .message) }
        try c.encodeNil(forKey: .logprobs)
        try c.encode(finishReason, forKey: .finish_reason)
    }
}

/// One choice of a streamed chunk; `text` for completions, `delta` for chat (the role on the first).
struct ChunkChoice: Encodable {
    var endpoint: Endpoint
    var text: String?
    var role: String?
    var finishReason: String?

    enum CodingKeys: String, CodingKey { case index, text, delta, logprobs, finish_reason }
    struct Delta: Encodable { var role: String?; var content: String? }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(0, forKey: .index)
        if endpoint == .completions { try c.encode(text ?? "", forKey: .text) } else { try c.encode(Delta(role: role, content: text), forKey: .delta) }
        try c.encodeNil(forKey: .logprobs)
        try c.encode(finishReason, forKey: .finish_reason)
    }
}

/// A whole response or one chunk: the envelope every OpenAI object shares.
struct ResponseEnvelope<C: Encodable>: Encodable {
    var id: String
    var object: String
    var created: Int
    var model: String
    var choices: [C]
    var usage: Usage?
    var fastkv: KVSavings?

    enum CodingKeys: String, CodingKey { case id, object, created, model, choices, usage, fastkv }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(object, forKey: .object)
        try c.encode(created, forKey: .created)
        try c.encode(model, forKey: .model)
        try c.encode(choices, forKey: .choices)
        try c.encodeIfPresent(usage, forKey: .usage)
        try c.encodeIfPresent(fastkv, forKey: .fastkv)
    }
}

extension Endpoint {
    var idPrefix: String { self == .completions ? "cmpl-" : "chatcmpl-" }
    var object: String { self == .completions ? "text_completion" : "chat.completion" }
    /// Completions chunks keep `text_completion` (as OpenAI sends them); chat ones have their own.
    var chunkObject: String { self == .completions ? "text_completion" : "chat.completion.chunk" }
}

/// Server-sent events as OpenAI streams them: `data: <json>\n\n` per chunk, `data: [DONE]\n\n` last.
public enum SSE {
    public static func event(_ json: [UInt8]) -> [UInt8] { Array("data: ".utf8) + json + Array("\n\n".utf8) }
    public static let done: [UInt8] = Array("data: [DONE]\n\n".utf8)
}
