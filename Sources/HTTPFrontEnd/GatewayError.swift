import Cluster
import Foundation
import RequestVocabulary
import Wire

/// Everything the gateway answers with an error, mapped once to an HTTP status and OpenAI's error
/// object (`{"error": {"message", "type", "param", "code"}}`), so every route fails the same way and
/// clients' retry logic (429 with Retry-After, 503) works unchanged.
public enum GatewayError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The request itself is wrong (JSON, a field, a knob, the prompt's length): 400, do not retry.
    case invalidRequest(String, param: String?)
    /// The model named is not the one this gateway serves: 400 (`model_not_found`).
    case unknownModel(requested: String, served: String)
    case notFound(path: String)
    /// Admission refused (cluster BUSY): 429 with Retry-After, the coordinator's estimate when it
    /// gave one (whole seconds, rounded up).
    case busy(String, retryAfterSeconds: Int = GatewayError.retryAfterSeconds)
    /// No prefill or no decode worker is healthy, or the coordinator does not answer: 503.
    case unavailable(String)
    /// The cluster's or the gateway's deadline passed: 504.
    case deadline(String)
    /// The HTTP client closed its connection and the request was cancelled for it: nobody reads
    /// the answer; 499 (nginx's "client closed request") in logs and the `cancelled` outcome.
    case clientGone(String)
    case `internal`(String)

    /// Seconds a client should wait after a 429 (a decode step frees capacity within milliseconds,
    /// but a whole request takes seconds; 1 s keeps a retrying client from spinning).
    public static let retryAfterSeconds = 1

    public var status: Int {
        switch self {
        case .invalidRequest, .unknownModel: 400
        case .notFound: 404
        case .busy: 429
        case .unavailable: 503
        case .deadline: 504
        case .clientGone: 499
        case .internal: 500
        }
    }

    /// OpenAI's `error.type`.
    public var type: String {
        switch self {
        case .invalidRequest, .unknownModel, .notFound: "invalid_request_error"
        case .busy: "rate_limit_error"
        case .unavailable: "service_unavailable"
        case .deadline: "timeout"
        case .clientGone: "client_closed_request"
        case .internal: "server_error"
        }
    }

    public var code: String? {
        switch self {
        case .unknownModel: "model_not_found"
        case .busy: "busy"
        case .deadline: "deadline_exceeded"
        default: nil
        }
    }

    public var param: String? {
        switch self {
        case .invalidRequest(_, let p): p
        case .unknownModel: "model"
        default: nil
        }
    }

    /// The outcome label of `fastkv_http_requests_total`.
    public var outcome: String {
        switch self {
        case .invalidRequest, .unknownModel, .notFound: "invalid_request"
        case .busy: "busy"
        case .unavailable: "unavailable"
        case .deadline: "deadline"
        case .clientGone: "cancelled"
        case .internal: "error"
        }
    }

    public var description: String {
        switch self {
        case .invalidRequest(let m, _): m
        case .unknownModel(let requested, let served): "the model '\(requested)' does not exist; this server serves '\(served)' (GET /v1/models)"
        case .notFound(let path): "no route for \(path)"
        case .busy(let m, _), .unavailable(let m), .deadline(let m), .clientGone(let m), .internal(let m): m
        }
    }

    /// HTTP headers that belong to the status (Retry-After on 429 and 503).
    public var headers: [(String, String)] {
        switch self {
        case .busy(_, let seconds): [("Retry-After", "\(seconds)")]
        case .unavailable: [("Retry-After", "\(Self.retryAfterSeconds)")]
        default: []
        }
    }

    /// The OpenAI error body.
    public var body: [UInt8] {
        struct Body: Encodable {
            struct Inner: Encodable {
                var message: String, type: String, param: String?, code: String?
                func encode(to encoder: any Encoder) throws {
                    var c = encoder.container(keyedBy: CodingKeys.self)
                    try c.encode(message, forKey: .message)
                    try c.encode(type, forKey: .type)
                    try c.encode(param, forKey: .param)   // explicit nulls, as OpenAI sends them
                    try c.encode(code, forKey: .code)
                }
                enum CodingKeys: String, CodingKey { case message, type, param, code }
            }
            var error: Inner
        }
        return (try? OpenAIJSON.encode(Body(error: .init(message: description, type: type, param: param, code: code))))
            ?? Array(#"{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}"#.utf8)
    }

    /// The same, except that a request this gateway cancelled because its client went away is
    /// `clientGone`, whatever the cluster answered to the Cancel.
    public init(cluster error: any Error, cancelledBy cancel: RequestCancellation) {
        if let reason = cancel.reason, !(error is GatewayError) {
            self = .clientGone(reason)
        } else {
            self.init(cluster: error)
        }
    }

    /// Maps what the cluster client throws. The coordinator's error codes carry the meaning; the
    /// client's own deadline is a 504 as well.
    public init(cluster error: any Error) {
        switch error {
        case let e as GatewayError:
            self = e
        case ClusterError.remote(let report):
            switch report.code {
            case .badRequest: self = .invalidRequest(report.message, param: nil)
            case .busy:
                let seconds = report.retryAfter.map { max(1, Int(($0.seconds).rounded(.up))) } ?? Self.retryAfterSeconds
                self = .busy(report.message, retryAfterSeconds: seconds)
            case .unavailable: self = .unavailable(report.message)
            case .deadlineExceeded: self = .deadline(report.message)
            case .workerLost: self = .unavailable(report.message)
            case .cancelled: self = .internal("the request was cancelled: \(report.message)")
            case .modelMismatch, .malformed, .internal: self = .internal("\(report.code.label): \(report.message)")
            }
        case ClusterError.coordinatorLost(_, let reason):
            self = .unavailable(reason)
        case ClusterError.deadlineExceeded(let operation, let after):
            self = .deadline("\(operation) got no answer within \(after)")
        case let e as RequestError:
            self = .invalidRequest(e.httpMessage, param: e.knob.field)
        default:
            self = .internal("\(error)")
        }
    }
}

extension RequestError {
    /// The message without the CLI flag: an HTTP client names fields, not flags.
    var httpMessage: String {
        switch self {
        case .invalid(let knob, let message): "\(knob.field) \(message)"
        }
    }
}
