import Foundation

/// Everything an `eval suite` run produced; written as results.json (keys are the output contract).
public struct SuiteResults: Codable, Sendable, Equatable {
    public var commit: String?
    public var date: String
    /// false while the run goes (and in the files an interrupted run leaves).
    public var complete: Bool
    public var rows_expected: Int
    public var machine: BenchResults.Machine
    public var model: String
    public var plan: SuitePlan
    public var rows: [SuiteRow]

    public init(commit: String?, date: String, complete: Bool, rows_expected: Int, machine: BenchResults.Machine,
                model: String, plan: SuitePlan, rows: [SuiteRow]) {
        self.commit = commit
        self.date = date
        self.complete = complete
        self.rows_expected = rows_expected
        self.machine = machine
        self.model = model
        self.plan = plan
        self.rows = rows
    }
}

/// The tables and chart data of a suite run.
public enum SuiteReport {
    /// Mean score per label over the cells where full KV is above chance; nil where no cell counts.
    /// `halfWidth` is the 95 % half-width of that mean of cell means: 1.96·√(Σ p̃ᵢ(1−p̃ᵢ)/(nᵢ+4))/k over
    /// its k cells, with Agresti–Coull's p̃ᵢ = (nᵢpᵢ + 2)/(nᵢ + 4) so a cell at 0 or 1 still counts its
    /// uncertainty (a normal approximation; the cells' samples are independent prompts).
    public static func averages(_ rows: [SuiteRow], length: Int? = nil)
        -> [(label: String, score: Double?, halfWidth: Double?, cells: Int)]
    {
        labels(rows).map { label in
            let counted = rows.filter { $0.label == label && !$0.near_chance && (length == nil || $0.length == length) }
            guard !counted.isEmpty else { return (label, nil, nil, 0) }
            let k = Double(counted.count)
            let variance = counted.reduce(0.0) { sum, r in
                let n = Double(r.samples), p = (n * r.score + 2) / (n + 4)
                return sum + p * (1 - p) / (n + 4)
            }
            return (label, counted.map(\.score).reduce(0, +) / k, 1.96 * variance.squareRoot() / k, counted.count)
        }
    }

    /// Label `label` against label `against` on the same samples: the difference of two suite
    /// averages measured on the same prompts, without the two averages' independent intervals (which
    /// overlap long before a difference is in doubt).
    public struct PairedDifference: Equatable, Sendable {
        public var label: String
        public var against: String
        /// Mean over the cells of each cell's mean score difference (label − against), the weighting
        /// of `averages`, so it equals the difference of the two labels' averages.
        public var difference: Double
        /// 95 % half-width: 1.96·√(Σ sᵢ²/nᵢ)/k over the k cells, sᵢ² the sample variance of cell i's
        /// n differences (1, the largest a difference of two scores in 0…1 can have, for a one-sample
        /// cell). A normal approximation: fair over many cells, rough for a few cells of few samples.
        public var halfWidth: Double
        public var cells: Int
        public var pairs: Int
        /// Samples on which `label` scored higher, the same, lower.
        public var better: Int
        public var equal: Int
        public var worse: Int
    }

    /// `label` − `against` over every run's cells where full KV is above chance and both rows hold
    /// per-sample scores of the same samples; nil where no cell qualifies. Runs are kept apart (two
    /// runs may hold the same cell key: other samples, other settings).
    public static func pairedDifference(_ runs: [[SuiteRow]], _ label: String, against: String) -> PairedDifference? {
        var meanSum = 0.0, varianceSum = 0.0, cells = 0, pairs = 0, better = 0, equal = 0, worse = 0
        for rows in runs {
            let byKey = Dictionary(rows.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
            for a in rows where a.label == label && !a.near_chance {
                guard let b = byKey[a.cellKey + "/" + against], let sa = a.sample_scores, let sb = b.sample_scores,
                      sa.count == sb.count, !sa.isEmpty else { continue }
                let d = zip(sa, sb).map { $0 - $1 }, n = Double(d.count)
                let m = d.reduce(0, +) / n
                let s2 = d.count > 1 ? d.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (n - 1) : 1
                meanSum += m
                varianceSum += s2 / n
                cells += 1
                pairs += d.count
                better += d.filter { $0 > 0 }.count
                equal += d.filter { $0 == 0 }.count
                worse += d.filter { $0 < 0 }.count
            }
        }
        guard cells > 0 else { return nil }
        let k = Double(cells)
        return PairedDifference(label: label, against: against, difference: meanSum / k,
                                halfWidth: 1.96 * varianceSum.squareRoot() / k, cells: cells, pairs: pairs,
                                better: better, equal: equal, worse: worse)
    }

    /// A Markdown table of `label` against full and against every other label at its budget (the
    /// text after its first space, e.g. "r=0.1"): paired differences in points.
    public static func pairedTable(_ runs: [[SuiteRow]], label: String) -> String {
        let budget = label.split(separator: " ", maxSplits: 1).dropFirst().first.map(String.init)
        let others = ["full"] + labels(runs.flatMap { $0 }).filter { other in
            other != label && other != "full" && budget.map { other.hasSuffix(" " + $0) } == true
        }
        var t = "| \(label) against | difference (points) [95 %] | cells | samples better / same / worse |\n|---|---:|---:|---|\n"
        for other in others {
            guard let p = pairedDifference(runs, label, against: other) else {
                t += "| \(other) | – (no cell above chance where both hold per-sample scores) | 0 | |\n"
                continue
            }
            let lo = String(format: "%+.1f", 100 * (p.difference - p.halfWidth)), hi = String(format: "%+.1f", 100 * (p.difference + p.halfWidth))
            t += "| \(other) | \(String(format: "%+.1f", 100 * p.difference)) [\(lo), \(hi)] | \(p.cells) | \(p.better) / \(p.equal) / \(p.worse) |\n"
        }
        return t
    }

    /// One Markdown table over several suite runs (`eval suite-table`): a row per method-budget label
    /// (in first-seen order), a column per (run, length, template), each cell the `averages` mean ±
    /// its half-width in percent, "–" where no cell above chance counts. With `perTaskSuffix`, a
    /// second table gives every (task, length, template) score of full and of the labels ending in
    /// " " + that suffix (e.g. "r=0.1"), near-chance cells marked.
    public static func combinedTable(_ runs: [(name: String, results: SuiteResults)], perTaskSuffix: String? = nil) -> String {
        func pct(_ x: Double) -> String { String(format: "%.1f", 100 * x) }
        let columns = runs.flatMap { run in
            run.results.plan.lengths.flatMap { length in run.results.plan.templates.map { (run, length, $0) } }
        }
        let allLabels = labels(runs.flatMap(\.results.rows))
        var t = "| method | " + columns.map { "\($0.0.name) \($0.1) \($0.2.rawValue)" }.joined(separator: " | ") + " |\n"
        t += "|---|" + columns.map { _ in "---:" }.joined(separator: "|") + "|\n"
        let cells = columns.map { run, length, template in
            Dictionary(averages(run.results.rows.filter { $0.template == template }, length: length).map { ($0.label, $0) },
                       uniquingKeysWith: { first, _ in first })
        }
        for label in allLabels {
            t += "| \(label) | " + cells.map { byLabel in
                guard let a = byLabel[label], let score = a.score, let half = a.halfWidth else { return "–" }
                return "\(pct(score)) ±\(pct(half))"
            }.joined(separator: " | ") + " |\n"
        }
        guard let suffix = perTaskSuffix else { return t }
        let picked = ["full"] + allLabels.filter { $0.hasSuffix(" " + suffix) }
        t += "\n| task | length | template | " + picked.joined(separator: " | ") + " |\n"
        t += "|---|---:|---|" + picked.map { _ in "---:" }.joined(separator: "|") + "|\n"
        for (run, length, template) in columns {
            for task in run.results.plan.tasks {
                let inCell = run.results.rows.filter { $0.task == task && $0.length == length && $0.template == template }
                guard let full = inCell.first(where: { $0.label == "full" }) else { continue }
                let name = task.rawValue + (full.near_chance ? " (near chance)" : "")
                t += "| \(name) | \(length) | \(template.rawValue) | " + picked.map { label in
                    inCell.first { $0.label == label }.map { pct($0.score) } ?? "–"
                }.joined(separator: " | ") + " |\n"
            }
        }
        return t
    }

    static func labels(_ rows: [SuiteRow]) -> [String] {
        var seen = Set<String>(), out: [String] = []
        for r in rows where seen.insert(r.label).inserted { out.append(r.label) }
        return out
    }

    public static func csv(_ rows: [SuiteRow]) -> String {
        let header = "task,length,template,label,method,kv_rate,kv_budget,samples,score,ci_low,ci_high,chance,full_score,near_chance,prompt_tokens,ttft_ms,kv_kept_share"
        func d(_ v: Double?) -> String { v.map { String(format: "%.6g", $0) } ?? "" }
        return ([header] + rows.map { r in
            [r.task.rawValue, "\(r.length)", r.template.rawValue, r.label, r.method, d(r.kv_rate), r.kv_budget.map(String.init) ?? "",
             "\(r.samples)", d(r.score), d(r.ci_low), d(r.ci_high), d(r.chance), d(r.full_score), "\(r.near_chance)",
             d(r.prompt_tokens), d(r.ttft_ms), d(r.kv_kept_share)].joined(separator: ",")
        }).joined(separator: "\n") + "\n"
    }

    /// Accuracy against KV kept: one block per method (title line first), points sorted by kept share;
    /// columns: kept share, mean score over the counted cells, label.
    public static func budgetChartData(_ rows: [SuiteRow]) -> (text: String, seriesCount: Int) {
        var methods: [String] = []
        for r in rows where !methods.contains(r.method) { methods.append(r.method) }
        var text = "", count = 0
        for m in methods {
            let points = labels(rows.filter { $0.method == m }).compactMap { label -> (Double, Double, String)? in
                let counted = rows.filter { $0.label == label && !$0.near_chance }
                guard !counted.isEmpty else { return nil }
                let n = Double(counted.count)
                return (counted.map(\.kv_kept_share).reduce(0, +) / n, counted.map(\.score).reduce(0, +) / n, label)
            }.sorted { $0.0 < $1.0 }
            guard !points.isEmpty else { continue }
            text += "\"\(m)\" kept score\n" + points.map { String(format: "%.6g %.6g \"%@\"", $0.0, $0.1, $0.2) }.joined(separator: "\n") + "\n\n\n"
            count += 1
        }
        return (text, count)
    }

    /// Accuracy against TTFT at the longest length: one line per label (TTFT ms, score, label).
    public static func paretoChartData(_ rows: [SuiteRow]) -> (text: String, pointCount: Int) {
        guard let longest = rows.map(\.length).max() else { return ("", 0) }
        let at = rows.filter { $0.length == longest && !$0.near_chance }
        let lines = labels(at).map { label -> String in
            let rs = at.filter { $0.label == label }, n = Double(rs.count)
            return String(format: "%.6g %.6g \"%@\"", rs.map(\.ttft_ms).reduce(0, +) / n, rs.map(\.score).reduce(0, +) / n, label)
        }
        return ("# ttft_ms score label (length \(longest))\n" + lines.joined(separator: "\n") + "\n", lines.count)
    }

    /// README.md: settings, the full-KV ceilings with chance levels, the averages per method and
    /// length, the samples needed for ±7 points at 4K, and the charts.
    public static func readme(_ results: SuiteResults, charts: [String]) -> String {
        let p = results.plan, rows = results.rows
        func pct(_ x: Double?) -> String { x.map { String(format: "%.1f", 100 * $0) } ?? "–" }
        var t = """
        # fastkv eval suite results

        - date: \(results.date)
        - commit: \(results.commit ?? "unknown (not a git checkout)")
        - model: \(results.model)
        - machine: \(results.machine.cpu_model), \(results.machine.nproc) CPUs
        - tasks: \(p.tasks.map(\.rawValue).joined(separator: ", ")); lengths \(p.lengths.map(String.init).joined(separator: ", ")) tokens; templates \(p.templates.map(\.rawValue).joined(separator: ", "))
        - fillers (samples take them in turn): \(p.fillers.map(\.rawValue).joined(separator: ", ")); \(p.samples) samples per cell, seed \(p.seed)
        - budgets: r ∈ {\(p.kv_rates.map { SuitePlan.format($0) }.joined(separator: ", "))}, C ∈ {\(p.kv_budgets.map(String.init).joined(separator: ", "))}; FastKV's ρ = \(SuitePlan.format(p.knobs.tspRate)) at the r budgets and n_T = \(p.constant_tsp_len) at the C budgets, ℓ_T = \(p.knobs.tspLayer.map(String.init) ?? "L/2 − 1"), w = \(p.knobs.windowSize), kernel \(p.knobs.kernelSize), \(p.knobs.pooling.rawValue) pooling


        """
        if !results.complete { t += "**Partial run:** \(rows.count) of \(results.rows_expected) rows so far.\n\n" }
        t += "Scores are percent (RULER's metric per task), 95 % Wilson intervals in brackets. A cell (task, length, template) whose full-KV score is below chance + \(pct(p.chance_margin)) points is **near chance**: it is marked and left out of every average.\n\n"
        t += "## Full-KV ceiling and chance\n\n| task | template | " + p.lengths.map { "\($0)" }.joined(separator: " | ") + " |\n|---|---|" + p.lengths.map { _ in "---:" }.joined(separator: "|") + "|\n"
        for task in p.tasks {
            for template in p.templates {
                let cells = p.lengths.map { length -> String in
                    guard let r = rows.first(where: { $0.task == task && $0.template == template && $0.length == length && $0.label == "full" }) else { return "" }
                    return "\(pct(r.score)) [\(pct(r.ci_low))–\(pct(r.ci_high))] / \(pct(r.chance))" + (r.near_chance ? " **near chance**" : "")
                }
                t += "| \(task.rawValue) | \(template.rawValue) | " + cells.joined(separator: " | ") + " |\n"
            }
        }
        t += "\n(full score [interval] / chance)\n\n## Average over the cells above chance\n\n| method | " + p.lengths.map { "\($0)" }.joined(separator: " | ") + " | all |\n|---|" + p.lengths.map { _ in "---:" }.joined(separator: "|") + "|---:|\n"
        let perLength = p.lengths.map { averages(rows, length: $0) }
        func withInterval(_ a: (label: String, score: Double?, halfWidth: Double?, cells: Int)?) -> String {
            guard let a, let score = a.score else { return "–" }
            return pct(score) + (a.halfWidth.map { " ±" + pct($0) } ?? "")
        }
        for overall in averages(rows) {
            t += "| \(overall.label) | " + perLength.map { withInterval($0.first { $0.label == overall.label }) }.joined(separator: " | ")
                + " | \(withInterval(overall)) (\(overall.cells) cells) |\n"
        }
        t += "\n(mean of the cells' scores ± the 95 % half-width of that mean)\n"
        // Where each method wins and loses: every cell at one budget (the paper's r = 0.1 if run).
        let budget = p.kv_rates.contains(0.1) ? "r=0.1" : p.kv_rates.first.map { "r=\(SuitePlan.format($0))" }
            ?? p.kv_budgets.first.map { "C=\($0)" }
        if let budget {
            let columns = labels(rows).filter { $0 == "full" || $0.hasSuffix(" " + budget) }
            t += "\n## Per cell at \(budget)\n\n| task | length | template | " + columns.joined(separator: " | ") + " |\n|---|---:|---|"
                + columns.map { _ in "---:" }.joined(separator: "|") + "|\n"
            for cell in p.cells {
                let inCell = rows.filter { $0.task == cell.task && $0.length == cell.length && $0.template == cell.template }
                guard let full = inCell.first(where: { $0.label == "full" }) else { continue }
                t += "| \(cell.task.rawValue)\(full.near_chance ? " (near chance)" : "") | \(cell.length) | \(cell.template.rawValue) | "
                    + columns.map { c in pct(inCell.first { $0.label == c }?.score) }.joined(separator: " | ") + " |\n"
            }
        }
        if let budget, labels(rows).contains("fastkv " + budget) {
            t += "\n## FastKV at \(budget) against each method, paired\n\nThe same samples under both methods: each cell's mean score difference, averaged over the cells above chance (so it is the difference of the two averages above), with a 95 % interval from the per-sample differences.\n\n"
            t += pairedTable([rows], label: "fastkv " + budget)
        }
        let near4K = p.lengths.min { abs($0 - 4096) < abs($1 - 4096) } ?? 4096
        let fulls = rows.filter { $0.length == near4K && $0.label == "full" }
        let need = fulls.map { Wilson.samplesNeeded(share: $0.score, halfWidth: 0.07) }.max()
        let widest = rows.filter { $0.length == near4K }.map { ($0.ci_high - $0.ci_low) / 2 }.max()
        t += "\n## Samples\n\nFor a 95 % interval of at most ±7 points a cell needs n ≥ 1.96²·p(1−p)/0.07², **196 at p = 0.5** (the worst case). "
        t += "At \(near4K) tokens the full-KV scores here need up to \(need.map(String.init) ?? "–") samples; this run has \(p.samples) per cell, and its widest interval at \(near4K) is ±\(pct(widest)) points.\n"
        if !charts.isEmpty {
            t += "\n## Charts\n\n" + charts.filter { $0.hasSuffix(".svg") }.map { "![\($0)](\($0))" }.joined(separator: "\n\n") + "\n"
        }
        return t
    }
}
