import Harness
import Testing

/// `SuiteReport.pairedDifference` / `pairedTable`: one label against another on the same samples.
struct SuitePairedDifferenceTests {
    func row(_ task: SuiteTask, _ label: String, _ scores: [Double]?, near: Bool = false) -> SuiteRow {
        let mean = (scores ?? [0]).reduce(0, +) / Double((scores ?? [0]).count)
        return SuiteRow(task: task, length: 1000, template: .plain, label: label, method: String(label.prefix { $0 != " " }),
                        kv_rate: nil, kv_budget: nil, samples: scores?.count ?? 1, score: mean, ci_low: 0, ci_high: 1,
                        chance: 0.25, full_score: nil, near_chance: near, prompt_tokens: 1000, ttft_ms: 1, kv_kept_share: 1,
                        score_by_filler: [:], answers: [], sample_scores: scores)
    }

    /// Two runs holding the same cell key stay apart; near-chance cells and rows without per-sample
    /// scores are left out; the interval is the hand-computed one.
    @Test func differencesArePairedPerCellAndRun() throws {
        let run1 = [row(.qa, "full", [1, 1, 0, 1]), row(.qa, "fastkv r=0.1", [1, 0, 0, 1]), row(.qa, "snapkv r=0.1", [0, 0, 0, 1]),
                    row(.qa, "snapkv r=0.2", [1, 1, 1, 1]),
                    row(.variableTracking, "fastkv r=0.1", [0, 0], near: true), row(.variableTracking, "snapkv r=0.1", [1, 1], near: true)]
        let run2 = [row(.qa, "fastkv r=0.1", [1, 1]), row(.qa, "snapkv r=0.1", [1, 0]),
                    row(.frequentWords, "fastkv r=0.1", [1]), row(.frequentWords, "snapkv r=0.1", nil)]
        // run1 qa: differences 1 0 0 0, mean 0.25, s² = (0.75² + 3·0.25²)/3 = 0.25, s²/n = 0.0625;
        // run2 qa: 0 1, mean 0.5, s² = 0.5, s²/n = 0.25; run2 fwe has no per-sample scores for snapkv.
        let p = try #require(SuiteReport.pairedDifference([run1, run2], "fastkv r=0.1", against: "snapkv r=0.1"))
        #expect(p.cells == 2 && p.pairs == 6 && p.better == 2 && p.equal == 4 && p.worse == 0, "\(p)")
        #expect(abs(p.difference - 0.375) < 1e-12)
        #expect(abs(p.halfWidth - 1.96 * (0.0625 + 0.25).squareRoot() / 2) < 1e-12, "\(p.halfWidth)")
        let againstFull = try #require(SuiteReport.pairedDifference([run1, run2], "fastkv r=0.1", against: "full"))
        #expect(againstFull.cells == 1 && againstFull.difference == -0.25 && againstFull.worse == 1)
        #expect(SuiteReport.pairedDifference([run2], "fastkv r=0.1", against: "full") == nil)
        let lines = SuiteReport.pairedTable([run1, run2], label: "fastkv r=0.1").split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "full and snapkv r=0.1 only, not snapkv r=0.2: \(lines)")
        #expect(lines[3] == "| snapkv r=0.1 | +37.5 [-17.3, +92.3] | 2 | 2 / 4 / 0 |", "\(lines[3])")
        // Only near-chance cells: no pair counts, and the row says why.
        let nearOnly = [row(.variableTracking, "fastkv r=0.1", [0, 1], near: true), row(.variableTracking, "full", [1, 1], near: true)]
        let empty = SuiteReport.pairedTable([nearOnly], label: "fastkv r=0.1").split(separator: "\n").map(String.init)
        #expect(empty.last == "| full | – (no cell above chance where both hold per-sample scores) | 0 | |", "\(empty)")
    }

    /// One-sample cells count with the largest variance a difference of scores can have.
    @Test func aOneSampleCellIsCountedConservatively() throws {
        let p = try #require(SuiteReport.pairedDifference([[row(.qa, "a", [1]), row(.qa, "b", [0])]], "a", against: "b"))
        #expect(p.difference == 1 && abs(p.halfWidth - 1.96) < 1e-12 && p.cells == 1)
    }
}
