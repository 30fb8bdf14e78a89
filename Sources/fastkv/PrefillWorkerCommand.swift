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
    @OptionGroup var drainOptions: DrainOptions
    @Option(help: "Assignments queued beyond this are refused BUSY (the coordinator places them elsewhere).")
    var maxQueued: Int = 256

    func validate() throws {
        if maxQueued < 1 { throw ValidationError("--max-queued must be ≥ 1") }
    }

    func run() throws {
        try runReportingErrors {
            configureWorkerThreads(modelOptions.threads)
            let loaded = try modelOptions.load()
            let worker = PrefillWorker(loaded: loaded, coordinator: endpoint.coordinator,
                                       curve: try curveOptions.credentials())
            worker.maxQueuedAssignments = maxQueued
            worker.drainTimeout = drainOptions.duration
            TerminationSignals.install { _ in worker.drain.stop() }
            try worker.run(stop: StopSignal())
        }
    }
}
