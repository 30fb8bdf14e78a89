/// What a route answers, independent of the HTTP server that sends it (`fastkv-http` maps it onto
/// Hummingbird), so the routes can be driven and tested without one.
public struct GatewayResponse: Sendable {
    /// Writes one chunk of a streamed body; throws when the client has gone away.
    public typealias Write = ([UInt8]) async throws -> Void

    public enum Body: Sendable {
        case bytes([UInt8])
        /// A body written chunk by chunk (SSE). The closure returns when the stream is complete, and
        /// stops — cancelling the request in the cluster — when `write` throws.
        case stream(@Sendable (_ write: Write) async throws -> Void)
    }

    public var status: Int
    public var headers: [(String, String)]
    public var body: Body

    public init(status: Int, headers: [(String, String)], body: Body) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    static func json(_ status: Int, _ bytes: [UInt8], headers: [(String, String)] = []) -> GatewayResponse {
        GatewayResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: .bytes(bytes))
    }

    static func error(_ e: GatewayError) -> GatewayResponse { json(e.status, e.body, headers: e.headers) }

    /// The bytes of a non-streamed body (tests).
    public var bytes: [UInt8]? {
        if case .bytes(let b) = body { return b }
        return nil
    }
}
