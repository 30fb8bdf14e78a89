import ArgumentParser
import Cluster
import Foundation
import Transport

struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the cluster coordinator: membership, tokenization, routing, request lifecycle.")

    @Option(help: "Endpoint to bind (loopback by default; tcp://0.0.0.0:PORT to accept other hosts).")
    var listen: String = "tcp://127.0.0.1:5555"
    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Default request timeout in seconds (a Submit may ask for another).")
    var timeout: Double = 120
    @OptionGroup var curveOptions: CurveOptions
    @Flag(help: "Allow a non-loopback --listen without CURVE keys (anyone who reaches it can register a worker).")
    var insecure = false
    @Option(help: "Requests admitted but not yet placed beyond which a Submit is refused BUSY with a retry-after.")
    var maxWaiting: Int = 256
    @Option(help: "Requests held in all (waiting and running) beyond which a Submit is refused BUSY.")
    var maxRequests: Int = 1024
    @Option(help: "Seconds without a heartbeat after which a worker is dropped and its requests re-placed.")
    var workerTimeout: Double = 3

    func validate() throws {
        if maxWaiting < 1 || maxRequests < 1 { throw ValidationError("--max-waiting and --max-requests must be ≥ 1") }
        if !(workerTimeout > 0 && workerTimeout.isFinite) { throw ValidationError("--worker-timeout must be > 0 seconds") }
        if !(timeout > 0 && timeout.isFinite) { throw ValidationError("--timeout must be > 0 seconds") }
    }

    func run() throws {
        try runReportingErrors {
            var config = Coordinator.Configuration()
            config.listen = listen
            config.curve = try curveOptions.credentials()
            config.insecure = insecure
            // Refuse an exposed plain endpoint before the model loads, not after.
            try EndpointExposure.check(listen, flag: "--listen", curve: config.curve != nil, insecure: insecure)
            configureWorkerThreads(modelOptions.threads)
            // The coordinator tokenizes and routes; it never runs prefill.
            let loaded = try modelOptions.load(forPrefill: false, kvBudgetBytes: 0)
            config.defaultTimeout = .milliseconds(Int64(timeout * 1000))
            config.maxWaitingRequests = maxWaiting
            config.maxRequests = maxRequests
            config.workerTimeout = .milliseconds(Int64(workerTimeout * 1000))
            let stop = StopSignal()
            TerminationSignals.install { _ in stop.stop() }
            try Coordinator(loaded: loaded, configuration: config).run(stop: stop) { endpoint in
                FileHandle.standardOutput.write(Data("coordinator listening on \(endpoint)\n".utf8))
            }
        }
    }
}
