import Engine
import Foundation
import RequestVocabulary
import Tokenization

/// Which OpenAI endpoint a body came to: they differ in the prompt's shape and the response's.
public enum Endpoint: String, Sendable {
    case completions
    case chatCompletions = "chat_completions"

    public var path: String { self == .completions ? "/v1/completions" : "/v1/chat/completions" }
}

/// A request the cluster can run, with what the response needs to know about it.
public struct TranslatedRequest: Sendable {
    public var endpoint: Endpoint
    public var generation: GenerationRequest
    public var compression: CompressionConfig
    public var wireDType: WireDType
    public var stream: Bool
    public var includeUsage: Bool
}

/// Turns an OpenAI body into a `GenerationRequest`, checking every field with the same initializers
/// the CLI uses (`SamplingParameters`, `CompressionConfig`), so a knob is named and bounded the same
/// way everywhere. Chat messages are rendered here with the model's own template
/// (`LoadedModel.encodeChat`, the renderer `generate --chat` and `submit --chat` use) and sent as
/// token ids: the wire's text prompt carries one user turn only.
public struct RequestTranslator: Sendable {
    /// The keys `kv_compression` accepts: `CompressionConfig`'s JSON keys plus the wire dtype.
    public static let compressionKeys: Set<String> = [
        "method", "kv_rate", "kv_budget", "tsp_rate", "tsp_len", "tsp_layer", "window", "kernel", "pooling", "wire_dtype",
        "ada_alpha", "headkv_beta", "headkv_temperature",
    ]

    public let servedModel: String
    public let model: LoadedModel
    /// The server's `--default-compression` object; a request's `kv_compression` keys override it.
    public let defaultCompression: [String: JSONValue]
    public let defaultMaxTokens: Int
    public let timeout: Duration

    public init(servedModel: String, model: LoadedModel, defaultCompression: [String: JSONValue],
                defaultMaxTokens: Int, timeout: Duration) throws(GatewayError) {
        self.servedModel = servedModel
        self.model = model
        self.defaultMaxTokens = defaultMaxTokens
        self.timeout = timeout
        self.defaultCompression = defaultCompression
        // A bad server default is a startup error, not a 400 on every request.
        _ = try Self.compression(from: defaultCompression, layerCount: model.config.layerCount, what: "--default-compression")
    }

    public func translate(_ r: OpenAIRequest, endpoint: Endpoint) throws(GatewayError) -> TranslatedRequest {
        guard let name = r.model else { throw .invalidRequest("model is required (GET /v1/models lists '\(servedModel)')", param: "model") }
        guard name == servedModel else { throw .unknownModel(requested: name, served: servedModel) }
        if let n = r.n, n != 1 {
            throw .invalidRequest("n must be 1, got \(n): this server returns one choice per request; send \(n) requests instead", param: "n")
        }
        if let b = r.best_of, b != 1 { throw .invalidRequest("best_of must be 1, got \(b)", param: "best_of") }
        if r.echo == true { throw .invalidRequest("echo is not supported", param: "echo") }
        if let l = r.logprobs, l != .null, l != .bool(false) {
            throw .invalidRequest("logprobs are not supported", param: "logprobs")
        }

        let prompt: GenerationRequest.Prompt
        switch endpoint {
        case .completions:
            if r.messages != nil { throw .invalidRequest("messages belongs to /v1/chat/completions; /v1/completions takes prompt", param: "messages") }
            prompt = try completionPrompt(r.prompt)
        case .chatCompletions:
            if r.prompt != nil { throw .invalidRequest("prompt belongs to /v1/completions; /v1/chat/completions takes messages", param: "prompt") }
            prompt = .tokenIDs(try chatTokens(r.messages))
        }

        let maxTokens = r.max_completion_tokens ?? r.max_tokens ?? defaultMaxTokens
        let sampling: SamplingParameters
        do {
            sampling = try SamplingParameters(
                temperature: Float(r.temperature ?? 1), topK: r.top_k ?? 0, topP: Float(r.top_p ?? 1),
                seed: r.seed.map { UInt64(bitPattern: $0) }, maxTokens: maxTokens,
                stopStrings: try stopStrings(r.stop), stopAtEOS: !(r.ignore_eos ?? false))
        } catch let e as RequestError {
            let param = e.knob == .maxTokens && r.max_completion_tokens != nil ? "max_completion_tokens" : e.knob.field
            throw .invalidRequest(e.httpMessage, param: param)
        } catch let e as GatewayError {
            throw e
        } catch {
            throw .internal("\(error)")
        }

        var merged = defaultCompression
        for (k, v) in r.kv_compression ?? [:] { merged[k] = v }
        let (compression, wireDType) = try Self.compression(from: merged, layerCount: model.config.layerCount, what: "kv_compression")
        let stream = r.stream ?? false
        return TranslatedRequest(
            endpoint: endpoint,
            // Always streamed from the cluster: the gateway measures TTFT and inter-token latency
            // for every request, and a non-streaming response is the concatenation.
            generation: GenerationRequest(prompt: prompt, sampling: sampling, compression: compression,
                                          wireDType: wireDType, timeout: timeout, stream: true),
            compression: compression, wireDType: wireDType, stream: stream,
            includeUsage: stream && (r.stream_options?.include_usage ?? false))
    }

    /// `prompt`: a string, or one list of token ids. Lists of several prompts (OpenAI's batch form)
    /// are refused: one request is one cluster request here.
    private func completionPrompt(_ p: JSONValue?) throws(GatewayError) -> GenerationRequest.Prompt {
        switch p {
        case nil, .null?:
            throw .invalidRequest("prompt is required", param: "prompt")
        case .string(let s)?:
            return .text(s)
        case .array(let items)?:
            if items.count == 1, case .string(let s) = items[0] { return .text(s) }
            if items.count == 1, case .array(let inner) = items[0] { return try completionPrompt(.array(inner)) }
            var ids: [Int32] = []
            for item in items {
                guard case .number(let d) = item else {
                    throw .invalidRequest("prompt: a list must hold token ids (one prompt per request; batched prompts are not supported)", param: "prompt")
                }
                guard d.rounded() == d, d >= 0, d < Double(model.config.vocabularySize) else {
                    throw .invalidRequest("prompt: token id \(d) is outside the vocabulary of \(model.config.vocabularySize)", param: "prompt")
                }
                ids.append(Int32(d))
            }
            guard !ids.isEmpty else { throw .invalidRequest("prompt is empty", param: "prompt") }
            return .tokenIDs(ids)
        case let other?:
            throw .invalidRequest("prompt: expected a string or a list of token ids, got \(other.typeName)", param: "prompt")
        }
    }

    private func chatTokens(_ messages: [OpenAIRequest.Message]?) throws(GatewayError) -> [Int32] {
        guard let messages, !messages.isEmpty else { throw .invalidRequest("messages must hold at least one message", param: "messages") }
        var turns: [ChatMessage] = []
        for (i, m) in messages.enumerated() {
            let role: String
            switch m.role {
            case "system", "user", "assistant": role = m.role
            case "developer": role = "system"   // OpenAI's newer name for the system role
            default:
                throw .invalidRequest("messages[\(i)].role must be system, user, assistant or developer, got '\(m.role)'", param: "messages")
            }
            turns.append(ChatMessage(role: role, content: try Self.text(of: m.content, index: i)))
        }
        do { return try model.encodeChat(turns) } catch {
            throw .invalidRequest("messages could not be rendered with the model's chat template: \(error)", param: "messages")
        }
    }

    /// A message's text: a string, the concatenated `text` parts of a list, or empty for null.
    static func text(of content: JSONValue?, index: Int) throws(GatewayError) -> String {
        switch content {
        case nil, .null?: return ""
        case .string(let s)?: return s
        case .array(let parts)?:
            var out = ""
            for part in parts {
                guard case .object(let o) = part, o["type"] == .string("text"), case .string(let t)? = o["text"] else {
                    throw .invalidRequest("messages[\(index)].content: only text parts ({\"type\": \"text\", \"text\": …}) are supported", param: "messages")
                }
                out += t
            }
            return out
        case let other?:
            throw .invalidRequest("messages[\(index)].content: expected a string or a list of text parts, got \(other.typeName)", param: "messages")
        }
    }

    /// `stop`: a string or a list of up to 4 strings (OpenAI's limit), or null.
    private func stopStrings(_ stop: JSONValue?) throws(GatewayError) -> [String] {
        switch stop {
        case nil, .null?: return []
        case .string(let s)?: return [s]
        case .array(let items)?:
            var out: [String] = []
            for item in items {
                guard case .string(let s) = item else { throw .invalidRequest("stop: expected strings, got \(item.typeName)", param: "stop") }
                out.append(s)
            }
            guard out.count <= 4 else { throw .invalidRequest("stop: at most 4 stop strings, got \(out.count)", param: "stop") }
            return out
        case let other?:
            throw .invalidRequest("stop: expected a string or a list of strings, got \(other.typeName)", param: "stop")
        }
    }

    /// Decodes a `kv_compression` object (unknown keys refused, so a typo is not silently the
    /// default) through `CompressionConfig`'s own decoder and validates it against the model.
    static func compression(from object: [String: JSONValue], layerCount: Int, what: String)
        throws(GatewayError) -> (CompressionConfig, WireDType) {
        if let unknown = object.keys.sorted().first(where: { !compressionKeys.contains($0) }) {
            throw .invalidRequest("\(what).\(unknown) is not a compression knob (known: \(compressionKeys.sorted().joined(separator: ", ")))", param: what)
        }
        var knobs = object
        var wire = WireDType.f16
        if let w = knobs.removeValue(forKey: "wire_dtype") {
            guard case .string(let s) = w, let d = WireDType(rawValue: s) else {
                throw .invalidRequest("\(what).wire_dtype must be one of \(WireDType.allCases.map(\.rawValue).joined(separator: ", "))", param: what)
            }
            wire = d
        }
        do {
            let data = try JSONEncoder().encode(JSONValue.object(knobs))
            let config = try JSONDecoder().decode(CompressionConfig.self, from: data)
            try config.validate(layerCount: layerCount)
            return (config, wire)
        } catch let e as RequestError {
            throw .invalidRequest("\(what).\(e.httpMessage)", param: what)
        } catch let DecodingError.dataCorrupted(context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw .invalidRequest("\(what).\(key): \(context.debugDescription)", param: what)
        } catch let DecodingError.typeMismatch(_, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw .invalidRequest("\(what).\(key) has the wrong type", param: what)
        } catch {
            throw .invalidRequest("\(what): \(error)", param: what)
        }
    }
}
