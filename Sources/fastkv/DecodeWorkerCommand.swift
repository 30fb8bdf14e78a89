import ArgumentParser
import Cluster
import Foundation
import Transport

struct DecodeWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode-worker",
        abstract: "Run a decode worker: receive KV, continuous batching, tokens back through the coordinator.")

    @OptionGroup var endpoint: ClusterEndpointOptions
    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "KV memory this worker may reserve, in bytes (f32 install size incl. decode room).")
    var maxKVBytes: Int = 2 << 30
    @Option(help: "Where prefill workers push KV (port * = any free port).")
    var kvListen: String = "tcp://127.0.0.1:*"

    func validate() throws {
        if maxKVBytes < 0 { throw ValidationError("--max-kv-bytes must be ≥ 0") }
    }

    func run() throws {
        try runReportingErrors {
            configureWorkerThreads(modelOptions.threads)
            let loaded = try modelOptions.load(forPrefill: false)   // decode only: no prefill GEMM copies
            try DecodeWorker(loaded: loaded, coordinator: endpoint.coordinator, kvListen: kvListen,
                             maxKVBytes: maxKVBytes).run(stop: StopSignal())
        }
    }
}
