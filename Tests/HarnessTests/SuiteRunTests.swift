import Engine
import FastKV
import Foundation
import Harness
import RequestVocabulary
import TestSupport
import Testing

extension ModelTests {
    /// The suite's harness end to end on SmolLM2, small enough for CI: niah_single at two short
    /// lengths, three samples each, full KV against StreamingLLM with a 32-entry window that cannot
    /// reach any needle (the deepest is ~70 tokens before the end of a 256-token prompt).
    @Suite struct SuiteRunTests {
        static func plan() throws -> SuitePlan {
            try SuitePlan(tasks: [.niahSingle], lengths: [256, 384], templates: [.plain], fillers: [.noise, .words],
                          samples: 3, seed: 11, methods: [.full, .streamingLLM, .snapKV], kvRates: [], kvBudgets: [32, 128],
                          knobs: .full)
        }

        @Test func fullFindsTheNeedleStreamingLLMCannotAndTheFolderResumes() throws {
            let loaded = try ModelTests.model()
            let plan = try Self.plan()
            let runner = try SuiteRunner(model: loaded, plan: plan, fillers: [try FillerText.load(.noise), try FillerText.load(.words)])
            let dir = try TemporaryDirectory("suite")
            let output = try SuiteOutput(directory: dir.url)
            let (results, _) = try runner.run(into: output, chartScript: nil)
            #expect(results.complete && results.rows.count == 2 * 5 && results.rows_expected == 10)
            func row(_ label: String, _ length: Int) throws -> SuiteRow {
                try #require(results.rows.first { $0.label == label && $0.length == length })
            }
            for length in plan.lengths {
                let full = try row("full", length), window = try row("streamingllm C=32", length)
                // Floor: the model retrieves a 7-digit needle from ≤ 384 tokens of filler in at least 2 of 3 samples.
                #expect(full.score >= 2.0 / 3, "full at \(length): \(full.answers)")
                #expect(!full.near_chance && full.chance < 1e-6 && full.full_score == full.score)
                #expect(window.score == 0, "StreamingLLM's 32-entry window holds no needle at \(length): \(window.answers)")
                #expect(window.kv_kept_share < 0.15 && full.kv_kept_share == 1)
                #expect(full.ci_low <= full.score && full.score <= full.ci_high && full.samples == 3)
                #expect(full.prompt_tokens <= Double(length) + 1, "BOS is the one token over the target")
            }
            // The files are there, and a rerun of the same plan runs nothing and changes no row.
            for name in ["results.json", "results.csv", "README.md", "chart-budget.dat", "chart-pareto.dat"] {
                #expect(FileManager.default.fileExists(atPath: dir.file(name).path), "\(name) missing")
            }
            var lines: [String] = []
            let (again, _) = try runner.run(into: output, chartScript: nil) { lines.append($0) }
            #expect(again.rows == results.rows)
            #expect(!lines.contains { $0.contains("sample") }, "resumed run re-ran samples: \(lines)")
            let other = try SuitePlan(tasks: [.niahSingle], lengths: [256], templates: [.plain], fillers: [.noise], samples: 3,
                                      seed: 12, methods: [.full], kvRates: [], kvBudgets: [], knobs: .full)
            #expect(throws: HarnessError.self) { _ = try output.resumableRows(plan: other) }
        }

        /// The shared prefill's answers are the answers of each method run alone.
        @Test func sharedRunsAnswerAsEachMethodAlone() throws {
            let loaded = try ModelTests.model()
            let runner = try SuiteRunner(model: loaded, plan: try Self.plan(), fillers: [try FillerText.load(.noise)])
            let sample = try runner.samples(task: .niahSingle, length: 256)[2]
            let together = try runner.run(sample, template: .plain, entries: runner.entries)
            for (i, entry) in runner.entries.enumerated() {
                let alone = try runner.run(sample, template: .plain, entries: [entry])[0]
                #expect(alone.answer == together[i].answer && alone.keptShare == together[i].keptShare, "\(entry.label)")
            }
        }
    }
}
