import Foundation
import Harness
import RequestVocabulary
import Testing

/// The suite's generators, scoring and statistics, on a word-count "tokenizer" (no model).
@Suite struct SuiteGeneratorTests {
    static let words: @Sendable (String) -> Int = { $0.split(whereSeparator: { $0.isWhitespace }).count }

    static func generator(_ fillers: [SuiteFiller] = [.noise, .words]) throws -> SuiteGenerator {
        try SuiteGenerator(fillers: fillers.map { try FillerText.load($0) }, countTokens: words)
    }

    @Test func samplesAreDeterministicPerSeedTaskLengthAndIndex() throws {
        let g = try Self.generator()
        for task in SuiteTask.allCases {
            let a = try g.sample(task, tokens: 600, index: 1, sampleCount: 4, seed: 7)
            let b = try Self.generator().sample(task, tokens: 600, index: 1, sampleCount: 4, seed: 7)
            #expect(a == b, "\(task.rawValue): the same seed gives the same sample")
            let c = try g.sample(task, tokens: 600, index: 2, sampleCount: 4, seed: 7)
            let d = try g.sample(task, tokens: 600, index: 1, sampleCount: 4, seed: 8)
            #expect(a.expected != c.expected && a.expected != d.expected, "\(task.rawValue): index and seed change the answer")
        }
    }

    @Test func everySampleFitsItsLengthAndHoldsItsAnswer() throws {
        let g = try Self.generator()
        for task in SuiteTask.allCases {
            for length in [400, 1500] {
                let s = try g.sample(task, tokens: length, index: 0, sampleCount: 3, seed: 1)
                let n = Self.words(s.body + "\n" + s.answerPrefix)
                #expect(n <= length && n >= length * 70 / 100, "\(task.rawValue) at \(length): \(n) tokens")
                #expect(s.expected.allSatisfy { s.body.contains($0) }, "\(task.rawValue): every expected string is in the prompt")
                #expect(s.chance >= 0 && s.chance < 0.5, "\(task.rawValue): chance \(s.chance)")
                #expect(s.filler == (task.usesFiller ? .noise : nil))
                #expect(task.score(answer: s.expected.joined(separator: ", "), expected: s.expected) == 1)
            }
        }
    }

    /// Depth d puts the needle after a share d of the filler: measured as the needle's word offset
    /// in the haystack over the haystack's words.
    @Test func theNeedleSitsAtTheRequestedDepth() throws {
        let g = try Self.generator([.noise])
        let count = 5
        for i in 0..<count {
            let s = try g.sample(.niahSingle, tokens: 2000, index: i, sampleCount: count, seed: 3)
            let needle = "The special magic number for"
            let body = s.body
            let start = body.range(of: "afterwards.\n")!.upperBound, end = body.range(of: "\nWhat is the special")!.lowerBound
            let hay = String(body[start..<end])
            let before = String(hay[..<hay.range(of: needle)!.lowerBound])
            let share = Double(Self.words(before)) / Double(Self.words(hay))
            #expect(abs(share - s.depths[0]) < 0.02, "sample \(i): asked \(s.depths[0]), found \(share)")
            #expect(abs(s.depths[0] - (Double(i) + 0.5) / Double(count)) < 1e-12)
        }
    }

    @Test func distractorsAndWordTasksAreBuiltAsDescribed() throws {
        let g = try Self.generator()
        let mk = try g.sample(.niahMultikey, tokens: 800, index: 0, sampleCount: 1, seed: 2)
        #expect(mk.body.components(separatedBy: "The special magic number for").count - 1 == 4 && mk.chance == 0.25)
        let mv = try g.sample(.niahMultivalue, tokens: 800, index: 0, sampleCount: 1, seed: 2)
        #expect(mv.expected.count == 4 && Set(mv.expected).count == 4)
        let cwe = try g.sample(.commonWords, tokens: 3000, index: 0, sampleCount: 1, seed: 2)
        let list = cwe.body.split(separator: " ").filter { !$0.hasSuffix(".") && $0.allSatisfy(\.isLowercase) }
        var counts: [Substring: Int] = [:]
        for w in list { counts[w, default: 0] += 1 }
        let top = counts.sorted { $0.value > $1.value }
        #expect(Set(top.prefix(10).map { String($0.key) }) == Set(cwe.expected) && top[9].value > top[10].value)
        let fwe = try g.sample(.frequentWords, tokens: 3000, index: 0, sampleCount: 1, seed: 2)
        let coded = fwe.body.split(separator: "\n")[1].split(separator: " ")
        var f: [Substring: Int] = [:]
        for w in coded { f[w, default: 0] += 1 }
        let ranked = f.sorted { $0.value > $1.value }
        #expect(ranked.prefix(3).map { String($0.key) } == fwe.expected && ranked[2].value > ranked[3].value)
        let vt = try g.sample(.variableTracking, tokens: 800, index: 0, sampleCount: 1, seed: 2)
        #expect(vt.expected.count == 5 && vt.body.components(separatedBy: "VAR ").count - 1 == 20 + 16)
        let qa = try g.sample(.qa, tokens: 1200, index: 0, sampleCount: 1, seed: 2)
        #expect(qa.body.contains("Document 1:") && qa.body.contains("Document 5:") && qa.expected.count == 1)
    }

    @Test func scoringFollowsRULERsMetrics() {
        #expect(SuiteTask.niahMultivalue.score(answer: "1234567 and 7654321", expected: ["1234567", "7654321", "1111111", "9999999"]) == 0.5)
        #expect(SuiteTask.qa.score(answer: "It is TEAL.", expected: ["teal", "red"]) == 1)
        #expect(SuiteTask.qa.score(answer: "blue", expected: ["teal"]) == 0)
        #expect(SuiteTask.niahSingle.score(answer: "anything", expected: []) == 0)
    }

    @Test func wilsonIntervalsAndSampleCounts() {
        let half = Wilson.interval(mean: 0.5, count: 196)
        #expect(abs((half.high - half.low) / 2 - 0.0693) < 0.0005, "±\((half.high - half.low) / 2)")
        let all = Wilson.interval(mean: 1, count: 2)
        #expect(abs(all.low - 0.3424) < 0.001 && all.high == 1)
        #expect(Wilson.samplesNeeded(share: 0.5, halfWidth: 0.07) == 196)
        #expect(Wilson.samplesNeeded(share: 0.9, halfWidth: 0.07) == 71)
    }

    @Test func theDevilsDictionaryIsProseAndItsAbsenceIsATypedError() throws {
        let devil = try FillerText.load(.devil)  // scripts/setup.sh installs dict-devil
        var stream = devil.stream(seed: 1)
        let sentences = (0..<50).map { _ in stream.next() }
        #expect(sentences.allSatisfy { $0.count >= 30 && $0.first!.isUppercase }, "\(sentences.prefix(3))")
        #expect(Set(sentences).count == 50)
        #expect(throws: HarnessError.self) { _ = try FillerText.load(.devil, devilPath: "/nonexistent/devil.dict.dz") }
    }

    @Test func thePlanPutsFullFirstAndLabelsEveryBudget() throws {
        let plan = try SuitePlan(tasks: [.qa], lengths: [2000, 1000], templates: [.plain], fillers: [.noise], samples: 2, seed: 1,
                                 methods: [.snapKV, .full, .fastKV], kvRates: [0.1, 0.02], kvBudgets: [512], knobs: .full)
        #expect(plan.lengths == [1000, 2000] && plan.methods == [.full, .snapKV, .fastKV])
        let labels = try plan.entries(layerCount: 30).map(\.label)
        #expect(labels == ["full", "snapkv r=0.1", "snapkv r=0.02", "snapkv C=512", "fastkv r=0.1", "fastkv r=0.02", "fastkv C=512"])
        // FastKV pairs r with ρ and C with the constant tsp_len (the spec's two modes); the rest ignore both.
        let fastkv = try plan.entries(layerCount: 30).filter { $0.config.method == .fastKV }.map(\.config)
        #expect(fastkv.map(\.tspLength) == [nil, nil, SuitePlan.defaultConstantTSPLength])
        #expect(fastkv.map(\.kvBudget) == [nil, nil, 512])
        // The baselines' own knobs reach their entries (`eval suite --ada-alpha/--headkv-*`).
        let tuned = try SuitePlan(tasks: [.qa], lengths: [1000], templates: [.plain], fillers: [.noise], samples: 1, seed: 1,
                                  methods: [.adaKV, .headKV], kvRates: [0.1], kvBudgets: [256],
                                  knobs: CompressionConfig(adaAlpha: 0.6, headKVBeta: 1.7, headKVTemperature: 0.5))
        let configs = try tuned.entries(layerCount: 30).map(\.config).filter { $0.method != .full }
        #expect(configs.count == 4 && configs.allSatisfy { $0.adaAlpha == 0.6 && $0.headKVBeta == 1.7 && $0.headKVTemperature == 0.5 })
        #expect(throws: HarnessError.invalid(.tspLength, "must be ≥ 1, got 0")) {
            _ = try SuitePlan(tasks: [.qa], lengths: [1000], templates: [.plain], fillers: [.noise], samples: 1, seed: 1,
                              methods: [.fastKV], kvRates: [], kvBudgets: [512], knobs: .full, constantTSPLength: 0)
        }
        #expect(throws: HarnessError.invalid(.samples, "must be ≥ 1")) {
            _ = try SuitePlan(tasks: [.qa], lengths: [1000], templates: [.plain], fillers: [.noise], samples: 0, seed: 1,
                              methods: [.full], kvRates: [], kvBudgets: [], knobs: .full)
        }
        #expect(throws: HarnessError.self) {
            _ = try SuitePlan(tasks: [.qa], lengths: [1000], templates: [.plain], fillers: [.noise], samples: 1, seed: 1,
                              methods: [.snapKV], kvRates: [1.5], kvBudgets: [], knobs: .full)
        }
    }

    /// `eval suite-table`: the columns are (run, length, template), the cells the same means and
    /// half-widths as `averages` over that column's rows, near-chance cells left out, and the
    /// per-task table marks them; a folder without results.json is a clear error.
    @Test func combinedTableAveragesEachColumn() throws {
        func row(_ task: SuiteTask, _ length: Int, _ template: SuiteTemplate, _ label: String, _ score: Double,
                 near: Bool = false) -> SuiteRow {
            SuiteRow(task: task, length: length, template: template, label: label, method: String(label.prefix { $0 != " " }),
                     kv_rate: nil, kv_budget: nil, samples: 4, score: score, ci_low: 0, ci_high: 1, chance: 0.25, full_score: nil,
                     near_chance: near, prompt_tokens: Double(length), ttft_ms: 1, kv_kept_share: 1, score_by_filler: [:], answers: [])
        }
        func results(lengths: [Int], templates: [SuiteTemplate], rows: [SuiteRow]) throws -> SuiteResults {
            let plan = try SuitePlan(tasks: [.qa, .variableTracking], lengths: lengths, templates: templates, fillers: [.noise],
                                     samples: 4, seed: 1, methods: [.snapKV], kvRates: [0.1], kvBudgets: [], knobs: .full)
            return SuiteResults(commit: nil, date: "2026-12-03", complete: true, rows_expected: rows.count,
                                machine: .init(nproc: 2, cpu_model: "test", memory_bytes: 1), model: "m", plan: plan, rows: rows)
        }
        let a = try results(lengths: [1000, 2000], templates: [.plain], rows: [
            row(.qa, 1000, .plain, "full", 1), row(.qa, 1000, .plain, "snapkv r=0.1", 0.5),
            row(.variableTracking, 1000, .plain, "full", 0.25, near: true), row(.variableTracking, 1000, .plain, "snapkv r=0.1", 0, near: true),
            row(.qa, 2000, .plain, "full", 0.75), row(.qa, 2000, .plain, "snapkv r=0.1", 0.25),
            row(.variableTracking, 2000, .plain, "full", 1), row(.variableTracking, 2000, .plain, "snapkv r=0.1", 0.75),
        ])
        let b = try results(lengths: [1000], templates: [.chat], rows: [row(.qa, 1000, .chat, "full", 0.5)])
        let lines = SuiteReport.combinedTable([("a", a), ("b", b)], perTaskSuffix: "r=0.1").split(separator: "\n").map(String.init)
        #expect(lines[0] == "| method | a 1000 plain | a 2000 plain | b 1000 chat |")
        // a 1000: one counted cell (qa) per label: 100 ± 30.0 and 50 ± 34.6 (see the test below);
        // a 2000: two cells of 4 samples, full (0.75 + 1)/2 = 87.5 with p̃ = 5/8 and 6/8:
        // 1.96·√(0.625·0.375/8 + 0.75·0.25/8)/2 = 0.2250; snapkv (0.25 + 0.75)/2 = 50.0 with p̃ = 3/8 and
        // 5/8: 1.96·√(2·0.375·0.625/8)/2 = 0.2372.
        #expect(lines[2] == "| full | 100.0 ±30.0 | 87.5 ±22.5 | 50.0 ±34.6 |", "\(lines[2])")
        #expect(lines[3] == "| snapkv r=0.1 | 50.0 ±34.6 | 50.0 ±23.7 | – |", "\(lines[3])")
        #expect(lines.contains("| vt (near chance) | 1000 | plain | 25.0 | 0.0 |"), "\(lines)")
        #expect(lines.contains("| qa | 1000 | chat | 50.0 | – |"), "\(lines)")
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("no-suite-\(UInt64.random(in: 0...UInt64.max))")
        #expect(throws: HarnessError.self) { _ = try SuiteOutput.results(in: missing) }
    }

    @Test func nearChanceCellsAreLeftOutOfTheAverages() {
        func row(_ task: SuiteTask, _ label: String, _ score: Double, near: Bool) -> SuiteRow {
            SuiteRow(task: task, length: 1000, template: .plain, label: label, method: label, kv_rate: nil, kv_budget: nil,
                     samples: 4, score: score, ci_low: 0, ci_high: 1, chance: 0.25, full_score: nil, near_chance: near,
                     prompt_tokens: 1000, ttft_ms: 1, kv_kept_share: 1, score_by_filler: [:], answers: [])
        }
        let rows = [row(.qa, "full", 1, near: false), row(.qa, "snapkv", 0.5, near: false),
                    row(.variableTracking, "full", 0.3, near: true), row(.variableTracking, "snapkv", 0, near: true)]
        let avg = SuiteReport.averages(rows)
        #expect(avg.map(\.label) == ["full", "snapkv"] && avg.map(\.score) == [1, 0.5] && avg.allSatisfy { $0.cells == 1 })
        // One cell of 4 samples at p = 0.5: p̃ = 0.5, 1.96·√(0.25/8) = 0.346; at 1: p̃ = 0.75, 1.96·√(0.1875/8) = 0.300.
        #expect(abs(avg[1].halfWidth! - 0.3465) < 1e-3 && abs(avg[0].halfWidth! - 0.3001) < 1e-3, "\(avg.map(\.halfWidth))")
        #expect(SuiteReport.csv(rows).split(separator: "\n").count == 5)
    }
}
