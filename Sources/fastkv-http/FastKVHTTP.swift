import ArgumentParser
import Cluster
import Engine
import Foundation
import HTTPFrontEnd
import HTTPTypes
import Hummingbird
import RequestVocabulary

/// `fastkv-http`: the OpenAI-compatible gateway in front of a fastkv coordinator.
///
/// A process of its own, not a `fastkv` subcommand, so that the worker roles never link Hummingbird
/// and SwiftNIO (minutes of build time, ../shared/notes/ecosystem.md §1) and so HTTP load — JSON,
/// SSE, many open connections — never competes with the coordinator's single scheduling thread.
/// It talks to the coordinator like `fastkv submit` does (`ClusterClient`), and loads only what it
/// needs of the model: the tokenizer and chat template (for chat messages) and the context length.
@main
struct FastKVHTTP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fastkv-http",
        abstract: "OpenAI-compatible HTTP gateway (completions, chat completions, SSE, /metrics) for a fastkv cluster.")

    @Option(help: "The coordinator's endpoint.")
    var coordinator = "tcp://127.0.0.1:5555"
    @Option(help: "HOST:PORT to serve HTTP on (loopback by default; 0.0.0.0:PORT for other hosts; port 0 = any).")
    var http = "127.0.0.1:8000"
    @Option(help: "The model the cluster serves (GGUF file or HF directory): its tokenizer and chat template render chat messages.")
    var model = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    @Option(help: "The model name clients pass as `model` (default: the model file's name without extension).")
    var servedModelName: String?
    @Option(help: #"Server default for kv_compression, as JSON (e.g. '{"method":"fastkv","kv_rate":0.1,"tsp_rate":0.2}'); a request's keys override it."#)
    var defaultCompression = #"{"method":"full"}"#
    @Option(help: "max_tokens when a request gives neither max_tokens nor max_completion_tokens.")
    var defaultMaxTokens = 128
    @Option(help: "The cluster's deadline per request, in seconds (504 after it).")
    var requestTimeout = 120.0
    @Option(help: "Largest request body accepted, in bytes.")
    var maxBodyBytes = 8 << 20
    @Option(help: "Compute threads for tokenization (the gateway computes nothing else).")
    var threads = 1

    @Option(help: "This gateway's CURVE key pair (NAME.secret from `fastkv keys generate`) for its links to a CURVE coordinator. Env: FASTKV_CURVE_SECRET_KEY.")
    var curveSecretKey: String?
    @Option(help: "The coordinator's CURVE public key (NAME.public). Env: FASTKV_CURVE_SERVER_KEY.")
    var curveServerKey: String?

    /// The same flags and environment fallbacks as the `fastkv` roles (`CurveOptions` there).
    func curveCredentials() throws -> CurveCredentials? {
        let env = ProcessInfo.processInfo.environment
        let secret = curveSecretKey ?? env["FASTKV_CURVE_SECRET_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        let server = curveServerKey ?? env["FASTKV_CURVE_SERVER_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        guard let secret else {
            if server != nil { throw ValidationError("--curve-server-key needs --curve-secret-key (or FASTKV_CURVE_SECRET_KEY)") }
            return nil
        }
        return try CurveCredentials(secretKeyFile: secret, serverKeyFile: server, authorizedKeysFile: nil)
    }

    func run() async throws {
        setenv("FASTKV_THREADS", "\(threads)", 1)
        guard let colon = http.lastIndex(of: ":"), let port = Int(http[http.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--http must be HOST:PORT, got '\(http)'")
        }
        let host = String(http[..<colon])
        guard requestTimeout > 0, requestTimeout.isFinite else { throw ValidationError("--request-timeout must be > 0, got \(requestTimeout)") }
        guard defaultMaxTokens >= 1 else { throw ValidationError("--default-max-tokens must be ≥ 1, got \(defaultMaxTokens)") }

        let loaded = try LoadedModel.load(path: model, forPrefill: false)
        let name = servedModelName ?? loaded.path.deletingPathExtension().lastPathComponent
        let defaults: [String: JSONValue]
        do {
            guard case .object(let o) = try JSONDecoder().decode(JSONValue.self, from: Data(defaultCompression.utf8)) else {
                throw ValidationError("--default-compression must be a JSON object")
            }
            defaults = o
        } catch let e as ValidationError { throw e } catch {
            throw ValidationError("--default-compression is not valid JSON: \(error)")
        }
        let translator: RequestTranslator
        do {
            translator = try RequestTranslator(servedModel: name, model: loaded, defaultCompression: defaults,
                                               defaultMaxTokens: defaultMaxTokens, timeout: .milliseconds(Int64(requestTimeout * 1000)))
        } catch {
            throw ValidationError("\(error)")
        }
        var config = OpenAIRoutes.Configuration()
        config.requestTimeout = .milliseconds(Int64(requestTimeout * 1000))
        let routes = OpenAIRoutes(translator: translator, bridge: try ClusterBridge(coordinator: coordinator, curve: try curveCredentials()),
                                  metrics: GatewayMetrics(), configuration: config)

        let router = Router(context: GatewayRequestContext.self)
        router.get("/health") { _, _ in Response(routes.health()) }
        router.get("/ready") { _, _ in Response(await routes.ready()) }
        router.get("/metrics") { _, _ in Response(await routes.scrape()) }
        router.get("/v1/models") { _, _ in Response(routes.models()) }
        let maxBody = maxBodyBytes
        for endpoint in [Endpoint.completions, .chatCompletions] {
            router.post(RouterPath(endpoint.path)) { request, context -> Response in
                switch await collect(request, upTo: maxBody) {
                case .success(let body):
                    Response(await routes.generate(endpoint, body: body, connection: await context.clientConnection()))
                case .failure(let e): Response(routes.refuse(e, endpoint: endpoint))
                }
            }
        }

        // Readiness for the request path, refreshed in the background (a request never waits on it).
        let poll = Task {
            while !Task.isCancelled {
                await routes.refreshReadiness()
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        defer { poll.cancel() }
        let coordinatorEndpoint = coordinator
        let app = Application(
            router: router,
            server: .http1(configuration: .init(additionalChannelHandlers: [ClientDisconnectHandler()])),
            configuration: .init(address: .hostname(host, port: port), serverName: "fastkv-http"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                // Written unbuffered: scripts wait for this line to learn the bound port.
                FileHandle.standardOutput.write(Data("fastkv-http listening on http://\(host):\(bound) (coordinator \(coordinatorEndpoint), model \(name))\n".utf8))
            })
        try await app.runService()
    }
}

/// The request body, bounded; a larger one is a 400 naming the limit.
private func collect(_ request: Request, upTo limit: Int) async -> Result<[UInt8], GatewayError> {
    do {
        let buffer = try await request.body.collect(upTo: limit)
        return .success(Array(buffer.readableBytesView))
    } catch {
        return .failure(.invalidRequest("the request body could not be read (at most \(limit) bytes): \(error)", param: nil))
    }
}

extension Response {
    /// Maps a route's answer onto Hummingbird. A streamed body's writer errors become
    /// `GatewayWriteError`, which the route reads as "the client went away".
    init(_ r: GatewayResponse) {
        var headers = HTTPFields()
        for (k, v) in r.headers {
            if let name = HTTPField.Name(k) { headers[name] = v }
        }
        switch r.body {
        case .bytes(let bytes):
            self.init(status: .init(code: r.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        case .stream(let produce):
            self.init(status: .init(code: r.status), headers: headers, body: ResponseBody { writer in
                try await produce { bytes in
                    do { try await writer.write(ByteBuffer(bytes: bytes)) } catch { throw GatewayWriteError(error) }
                }
                try await writer.finish(nil)
            })
        }
    }
}
