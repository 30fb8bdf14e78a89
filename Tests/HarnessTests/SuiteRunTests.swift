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
                // Each sample's score is kept (what the paired differences compare) and averages to the row's.
                for r in [full, window] {
                    let scores = try #require(r.sample_scores, "\(r.label) kept no per-sample scores")
                    #expect(scores.count == 3 && abs(scores.reduce(0, +) / 3 - r.score) < 1e-12, "\(r.label): \(scores)")
                }
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

        /// FastKV's constant budgets run the spec's constant mode: with n_T ≥ N no token is dropped at
        /// the TSP layer, so it keeps and answers exactly what SnapKV does; with n_T < N the layers after
        /// ℓ_T hold only the n_T propagated tokens.
        @Test func fastKVsConstantBudgetsUseTheConstantTSPLength() throws {
            let loaded = try ModelTests.model()
            func outcomes(tspLength: Int) throws -> [SuiteRunner.Outcome] {
                let plan = try SuitePlan(tasks: [.niahSingle], lengths: [256], templates: [.plain], fillers: [.noise], samples: 1,
                                         seed: 11, methods: [.snapKV, .fastKV], kvRates: [], kvBudgets: [128], knobs: .full,
                                         constantTSPLength: tspLength)
                let runner = try SuiteRunner(model: loaded, plan: plan, fillers: [try FillerText.load(.noise)])
                #expect(runner.entries.map(\.label) == ["full", "snapkv C=128", "fastkv C=128"])
                return try runner.run(try runner.samples(task: .niahSingle, length: 256)[0], template: .plain, entries: runner.entries)
            }
            let whole = try outcomes(tspLength: 2048)
            #expect(whole[2].answer == whole[1].answer && whole[2].keptShare == whole[1].keptShare)
            let cut = try outcomes(tspLength: 64)
            let layers = Double(loaded.config.layerCount), early = Double(loaded.config.layerCount / 2)  // ℓ_T = L/2 − 1
            let prompt = Double(cut[0].promptTokens)
            #expect(abs(cut[1].keptShare - 128 / prompt) < 1e-9)
            #expect(abs(cut[2].keptShare - (early * 128 + (layers - early) * 64) / (layers * prompt)) < 1e-9, "\(cut[2].keptShare)")
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
