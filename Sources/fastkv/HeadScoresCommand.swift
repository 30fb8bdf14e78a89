import ArgumentParser
import FastKV
import Foundation
import Harness

/// `fastkv headscores`: HeadKV's retrieval-reasoning head detection on this engine
/// (`HeadScoreDetection`); writes the head-importance JSON that `--method headkv` reads.
struct HeadScoresCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "headscores",
        abstract: "Detect retrieval-reasoning heads with needle trials; write the head-importance file HeadKV uses.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Prompt lengths of the needle trials, in tokens.")
    var lengths: String = HeadScoreDetection.defaultLengths.map(String.init).joined(separator: ",")
    @Option(help: "Needle depths per length, spread evenly ((i + 0.5)/count).")
    var depths: Int = HeadScoreDetection.defaultDepthCount
    @Option(help: "Seed of the needles' keys.") var seed: UInt64 = 1
    @Flag(help: "Score every trial, answered right or not (models that cannot retrieve; not the reference rule).")
    var scoreAllTrials = false
    @Option(help: "Write the scores here (JSON).") var out: String

    func validate() throws {
        _ = try usageChecked { () throws(HarnessError) in try ListArgument.positiveIntegers(lengths, for: .lengths) }
        if out.isEmpty { throw ValidationError("--out must name a file") }
    }

    func run() throws {
        try runReportingErrors {
            let loaded = try modelOptions.load()
            let detection = try HeadScoreDetection(model: loaded, lengths: try ListArgument.positiveIntegers(lengths, for: .lengths),
                                                   depthCount: depths, seed: seed, scoreAllTrials: scoreAllTrials)
            let scores = try detection.run { t in
                printError(String(format: "headscores: N=%d depth=%.2f key %@ answer %@ %@", t.promptTokens, t.depth,
                                  t.key, t.answer.debugDescription, t.counted ? "counted" : "not counted"))
            }
            try scores.encoded().write(to: URL(fileURLWithPath: out))
            let ranked = scores.scores.enumerated().flatMap { l, row in row.enumerated().map { (l, $0, $1) } }
                .sorted { $0.2 > $1.2 }.prefix(5).map { String(format: "%d-%d %.3f", $0.0, $0.1, $0.2) }
            print("headscores: \(scores.trials.accepted)/\(scores.trials.attempted) trials counted; top heads (layer-head score): \(ranked.joined(separator: ", "))")
            printError("headscores: wrote \(out) for model \(scores.fingerprint)")
        }
    }
}
