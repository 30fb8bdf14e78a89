import Engine
import FastKV
import Foundation
import RequestVocabulary
import Tokenization

/// Runs the suite's cells on one model: per sample, one full prefill shared by every method that
/// does not change the forward pass (`Generator.prefillShared`), one per FastKV TSP setting that
/// drops tokens and one GemFilter filter pass for all its budgets; every answer decoded greedily in one batch
/// (`Generator.decodeTogether`) and scored by the task's metric.
public struct SuiteRunner {
    public let loaded: LoadedModel
    public let plan: SuitePlan
    public let entries: [SuitePlan.Entry]
    let generator: SuiteGenerator

    public init(model: LoadedModel, plan: SuitePlan, fillers: [FillerText]) throws(HarnessError) {
        loaded = model
        self.plan = plan
        entries = try plan.entries(layerCount: model.config.layerCount)
        let tokenizer = model.tokenizer
        generator = try SuiteGenerator(fillers: fillers) { tokenizer.encode($0).count }
        let longest = plan.lengths.last!
        let extra = SuiteTask.allCases.map(\.maxTokens).max()! + 64  // answer tokens + the chat template
        guard longest + extra <= model.config.contextLength else {
            throw .exceedsContext(length: longest, extra: extra, extraSetting: nil, contextLength: model.config.contextLength)
        }
    }

    /// The prompt ids of a sample under a template.
    public func promptTokens(_ s: SuiteSample, template: SuiteTemplate) throws -> [Int32] {
        switch template {
        case .plain: return try loaded.encodePrompt(SuiteGenerator.plainText(body: s.body, answerPrefix: s.answerPrefix), chat: false)
        case .chat: return try loaded.encodeChat([ChatMessage(role: "user", content: s.body)]) + loaded.tokenizer.encode(s.answerPrefix)
        }
    }

    /// The samples of one cell (deterministic per plan seed).
    public func samples(task: SuiteTask, length: Int) throws(HarnessError) -> [SuiteSample] {
        try (0..<plan.samples).map { i throws(HarnessError) in
            try generator.sample(task, tokens: length, index: i, sampleCount: plan.samples, seed: plan.seed)
        }
    }

    /// One sample's outcome under one entry.
    public struct Outcome: Sendable {
        public var answer: String
        public var score: Double
        public var ttftMs: Double
        public var keptShare: Double
        public var promptTokens: Int
    }

    /// Entries that can share one prefill forward on a prompt of `promptLength` tokens, as index
    /// groups in first-seen order (`CompressedPrefill.forward`: the full forward, FastKV's TSP forward
    /// per scorer setting, GemFilter's filter pass per filter layer).
    static func forwardGroups(_ entries: [SuitePlan.Entry], promptLength: Int, layerCount: Int) -> [[Int]] {
        var keys: [PrefillForward] = [], groups: [PrefillForward: [Int]] = [:]
        for (i, e) in entries.enumerated() {
            let key = CompressedPrefill.forward(of: e.config, promptLength: promptLength, layerCount: layerCount)
            if groups[key] == nil { keys.append(key) }
            groups[key, default: []].append(i)
        }
        return keys.map { groups[$0]! }
    }

    /// Runs `sample` under `entries` (in their order): entries that agree on the forward share a
    /// prefill, and every entry's answer is decoded in one batch (`Generator.decodeTogether`).
    public func run(_ sample: SuiteSample, template: SuiteTemplate, entries: [SuitePlan.Entry]) throws -> [Outcome] {
        let ids = try promptTokens(sample, template: template)
        let sampling = try SamplingParameters(maxTokens: sample.task.maxTokens)
        let gen = Generator(loaded)
        var prefilled = [PrefilledSequence?](repeating: nil, count: entries.count)
        for group in Self.forwardGroups(entries, promptLength: ids.count, layerCount: loaded.model.config.layerCount) {
            if group.count > 1 {
                do {
                    let shared = try gen.prefillShared(promptTokens: ids, sampling: sampling,
                                                       compressions: group.map { entries[$0].config })
                    for (k, i) in group.enumerated() { prefilled[i] = shared[k] }
                    continue
                } catch FastKVError.policiesDisagree {
                    // Budgets that still propagate different tokens (one whose ℓ_T keeps every token, say): alone.
                }
            }
            for i in group {
                prefilled[i] = try gen.prefill(promptTokens: ids, sampling: sampling, compression: entries[i].config)
            }
        }
        let results = try gen.decodeTogether(prefilled.map { $0! }, promptTokens: ids, sampling: sampling)
        return results.map { r in
            Outcome(answer: r.text, score: sample.task.score(answer: r.text, expected: sample.expected),
                    ttftMs: r.timeToFirstTokenMilliseconds,
                    keptShare: r.fullEntries > 0 ? Double(r.keptEntries) / Double(r.fullEntries) : 1,
                    promptTokens: ids.count)
        }
    }

    /// Runs every cell not already in `done` (rows keyed by `SuiteRow.key`), cell by cell; `onCell`
    /// receives each finished cell's rows (to write them out before the next cell starts).
    public func run(done: [SuiteRow] = [], onSample: (String) -> Void = { _ in },
                    onCell: ([SuiteRow]) throws -> Void = { _ in }) throws -> [SuiteRow] {
        var rows = done
        let doneKeys = Set(done.map(\.key))
        for cell in plan.cells {
            let cellKey = "\(cell.task.rawValue)/\(cell.length)/\(cell.template.rawValue)"
            let missing = entries.filter { !doneKeys.contains(cellKey + "/" + $0.label) }
            guard !missing.isEmpty else { continue }
            // Full KV is the ceiling every row of the cell reports: run it unless it is done.
            let fullDone = done.first { $0.key == cellKey + "/full" }
            let toRun = fullDone == nil || missing.contains(where: { $0.label == "full" }) ? [entries[0]] + missing.filter { $0.label != "full" } : missing
            let samples = try samples(task: cell.task, length: cell.length)
            var outcomes: [[Outcome]] = []
            for (i, s) in samples.enumerated() {
                let o = try run(s, template: cell.template, entries: toRun)
                onSample("\(cellKey) sample \(i + 1)/\(samples.count): " + zip(toRun, o).map { "\($0.label) \(String(format: "%.2f", $1.score))" }.joined(separator: ", "))
                outcomes.append(o)
            }
            let chance = samples.map(\.chance).reduce(0, +) / Double(samples.count)
            let fullScore = fullDone?.score ?? mean(outcomes.map { $0[0].score })
            let nearChance = fullScore < chance + plan.chance_margin
            var cellRows: [SuiteRow] = []
            for (j, entry) in toRun.enumerated() where !doneKeys.contains(cellKey + "/" + entry.label) {
                let scores = outcomes.map { $0[j].score }
                let m = mean(scores)
                let ci = Wilson.interval(mean: m, count: scores.count)
                var byFiller: [String: [Double]] = [:]
                for (i, s) in samples.enumerated() { byFiller[s.filler?.rawValue ?? "none", default: []].append(scores[i]) }
                let c = entry.config
                cellRows.append(SuiteRow(
                    task: cell.task, length: cell.length, template: cell.template, label: entry.label, method: c.method.rawValue,
                    kv_rate: c.method == .full || c.kvBudget != nil ? nil : c.retainRate, kv_budget: c.kvBudget,
                    samples: scores.count, score: m, ci_low: ci.low, ci_high: ci.high, chance: chance, full_score: fullScore,
                    near_chance: nearChance, prompt_tokens: mean(outcomes.map { Double($0[j].promptTokens) }),
                    ttft_ms: mean(outcomes.map { $0[j].ttftMs }), kv_kept_share: mean(outcomes.map { $0[j].keptShare }),
                    score_by_filler: byFiller.mapValues(mean), answers: outcomes.map { String($0[j].answer.prefix(200)) }, sample_scores: scores))
            }
            rows += cellRows
            try onCell(cellRows)
        }
        return rows
    }

    private func mean(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count) }
}
