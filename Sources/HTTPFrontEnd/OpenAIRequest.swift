import Foundation

/// The body of `POST /v1/completions` and `POST /v1/chat/completions` as OpenAI defines it, plus
/// fastkv's extensions (`kv_compression`, `top_k`, `ignore_eos`). Decoded leniently only where OpenAI
/// itself is polymorphic (`prompt`, `stop`, message `content`); everything is turned into a
/// `GenerationRequest`, and checked, by `RequestTranslator`.
public struct OpenAIRequest: Sendable, Decodable {
    public struct Message: Sendable, Decodable {
        public var role: String
        /// A string, a list of content parts (`{"type": "text", "text": …}`), or null.
        public var content: JSONValue?
    }

    public struct StreamOptions: Sendable, Decodable {
        public var include_usage: Bool?
    }

    public var model: String?
    public var prompt: JSONValue?
    public var messages: [Message]?
    public var max_tokens: Int?
    public var max_completion_tokens: Int?
    public var temperature: Double?
    public var top_p: Double?
    public var top_k: Int?
    public var seed: Int64?
    public var stop: JSONValue?
    public var n: Int?
    public var best_of: Int?
    public var echo: Bool?
    public var logprobs: JSONValue?
    public var stream: Bool?
    public var stream_options: StreamOptions?
    public var user: String?
    public var ignore_eos: Bool?
    /// Per-request KV compression (`CompressionConfig`'s JSON keys plus `wire_dtype`), merged over
    /// the server's default.
    public var kv_compression: [String: JSONValue]?

    /// Decodes a body, turning `DecodingError` into a 400 that names the field and what was expected.
    public static func decode(_ body: [UInt8]) throws(GatewayError) -> OpenAIRequest {
        guard !body.isEmpty else { throw .invalidRequest("the request body is empty; send a JSON object", param: nil) }
        do {
            return try JSONDecoder().decode(OpenAIRequest.self, from: Data(body))
        } catch let DecodingError.typeMismatch(type, context) {
            throw .invalidRequest("\(Self.path(context)): expected \(Self.name(of: type))", param: Self.path(context))
        } catch let DecodingError.valueNotFound(type, context) {
            throw .invalidRequest("\(Self.path(context)): expected \(Self.name(of: type)), got null", param: Self.path(context))
        } catch let DecodingError.keyNotFound(key, context) {
            let path = (context.codingPath + [key]).map(\.stringValue).joined(separator: ".")
            throw .invalidRequest("\(path) is required", param: path)
        } catch let DecodingError.dataCorrupted(context) {
            if context.codingPath.isEmpty {
                throw .invalidRequest("the request body is not valid JSON: \(context.underlyingError.map { "\($0)" } ?? context.debugDescription)", param: nil)
            }
            throw .invalidRequest("\(Self.path(context)): \(context.debugDescription)", param: Self.path(context))
        } catch {
            throw .invalidRequest("the request body could not be read: \(error)", param: nil)
        }
    }

    private static func path(_ context: DecodingError.Context) -> String {
        let p = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        return p.isEmpty ? "body" : p.replacingOccurrences(of: ".[", with: "[")
    }

    private static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type: "a number"
        default: type == [String: Any].self ? "an object" : "a value of type \(type)"
        }
    }
}
