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

    func run() throws {
        try runReportingErrors {
            configureWorkerThreads(modelOptions.threads)
            // The coordinator tokenizes and routes; it never runs prefill.
            let loaded = try modelOptions.load(forPrefill: false)
            var config = Coordinator.Configuration()
            config.listen = listen
            config.defaultTimeout = .milliseconds(Int64(timeout * 1000))
            try Coordinator(loaded: loaded, configuration: config).run(stop: StopSignal()) { endpoint in
                FileHandle.standardOutput.write(Data("coordinator listening on \(endpoint)\n".utf8))
            }
        }
    }
}
