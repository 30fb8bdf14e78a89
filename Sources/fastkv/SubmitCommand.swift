import ArgumentParser
import Cluster
import Foundation
import RequestVocabulary

struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Send a prompt through the cluster; stream the answer, then report bytes and latencies.")

    @OptionGroup var endpoint: ClusterEndpointOptions
    @OptionGroup var curveOptions: CurveOptions
    @OptionGroup var promptOptions: PromptOptions
    @OptionGroup var samplingOptions: SamplingOptions
    @OptionGroup var compressionOptions: CompressionOptions
    @Option(name: .customLong("wire-dtype"), help: "KV element type on the wire.")
    var wireDType: WireDType = .f16
    @Option(help: "Request deadline in seconds (the cluster's; the client waits a little longer).")
    var timeout: Double = 120
    @Flag(help: "Print one JSON object at the end instead of streaming text.")
    var json = false

    func validate() throws {
        guard timeout > 0, timeout < 86_400 else { throw ValidationError("--timeout must be in (0, 86400) seconds") }
    }

    func run() throws {
        try runReportingErrors {
            let compression = try compressionOptions.config()
            let timeoutDuration = Duration.milliseconds(Int64((timeout * 1000).rounded(.up)))
            let request = GenerationRequest(prompt: .text(try promptOptions.text()), chat: promptOptions.chat,
                                            sampling: try samplingOptions.parameters(), compression: compression,
                                            wireDType: wireDType, timeout: timeoutDuration, stream: true)
            let client = try ClusterClient(coordinator: endpoint.coordinator, curve: try curveOptions.credentials())
            let outcome = try client.submit(request, clientTimeout: timeoutDuration + .seconds(5)) { tokens in
                if !json { FileHandle.standardOutput.write(Data(tokens.text.utf8)) }
            }
            let report = SubmitReport(outcome, method: compression.method, wireDType: wireDType)
            if json {
                print(try report.jsonString())
            } else {
                FileHandle.standardOutput.write(Data("\n".utf8))
                printError(report.summary)
            }
        }
    }
}
