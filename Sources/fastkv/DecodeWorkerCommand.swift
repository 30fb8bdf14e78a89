import ArgumentParser
import Cluster
import Foundation
import Transport

struct DecodeWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode-worker",
        abstract: "Run a decode worker: receive KV, continuous batching, tokens back through the coordinator.")

    @OptionGroup var endpoint: ClusterEndpointOptions
    @OptionGroup var curveOptions: CurveOptions
    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "KV memory this worker may reserve, in bytes (f32 install size incl. decode room).")
    var maxKVBytes: Int = 2 << 30
    @Option(help: "Where prefill workers push KV (port * = any free port).")
    var kvListen: String = "tcp://127.0.0.1:*"
    @Option(help: ArgumentHelp(
        "KV endpoint to announce to the coordinator instead of the bound one, e.g. a delay relay or NAT address in front of --kv-listen.",
        discussion: "tcp://HOST:PORT with a concrete host and port (no *, no 0.0.0.0), or ipc://PATH. Prefill workers connect here; whatever listens here must forward to --kv-listen.",
        valueName: "endpoint"))
    var kvAdvertise: String?
    @Option(help: "The most sequences held at once (decoding plus being received); more are refused BUSY.")
    var maxSequences: Int = 64
    @OptionGroup var drainOptions: DrainOptions
    @Flag(help: "Allow a non-loopback --kv-listen / --kv-advertise without CURVE keys (anyone who reaches it can push KV).")
    var insecure = false

    func validate() throws {
        if maxKVBytes < 0 { throw ValidationError("--max-kv-bytes must be ≥ 0") }
        if maxSequences < 1 { throw ValidationError("--max-sequences must be ≥ 1") }
        if let kvAdvertise {
            do { _ = try DecodeWorker.validateAdvertisedEndpoint(kvAdvertise) } catch ClusterError.badRequest(let why) {
                throw ValidationError("--kv-advertise: \(why)")
            }
        }
    }

    func run() throws {
        try runReportingErrors {
            let curve = try curveOptions.credentials()
            // Refuse an exposed plain KV endpoint before the model loads (DecodeWorker.run checks again).
            try EndpointExposure.check(kvListen, flag: "--kv-listen", curve: curve != nil, insecure: insecure)
            if let kvAdvertise {
                try EndpointExposure.check(kvAdvertise, flag: "--kv-advertise", curve: curve != nil, insecure: insecure)
            }
            configureWorkerThreads(modelOptions.threads)
            // Decode only: no prefill panels; the KV budget is --max-kv-bytes.
            let loaded = try modelOptions.load(forPrefill: false, kvBudgetBytes: maxKVBytes, decodeSequences: maxSequences)
            let worker = DecodeWorker(loaded: loaded, coordinator: endpoint.coordinator, kvListen: kvListen,
                                      kvAdvertise: kvAdvertise, maxKVBytes: maxKVBytes, curve: curve, insecure: insecure)
            worker.maxSequences = maxSequences
            worker.drainTimeout = drainOptions.duration
            TerminationSignals.install { _ in worker.drain.stop() }
            try worker.run(stop: StopSignal())
        }
    }
}
