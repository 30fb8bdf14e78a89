import ArgumentParser
import Cluster
import Foundation
import Transport

struct PrefillWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prefill-worker",
        abstract: "Run a prefill worker: (compressed) prefill, KV pushed layer by layer to a decode worker.")

    @OptionGroup var endpoint: ClusterEndpointOptions
    @OptionGroup var curveOptions: CurveOptions
    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        try runReportingErrors {
            configureWorkerThreads(modelOptions.threads)
            let loaded = try modelOptions.load()
            try PrefillWorker(loaded: loaded, coordinator: endpoint.coordinator,
                              curve: try curveOptions.credentials()).run(stop: StopSignal())
        }
    }
}
