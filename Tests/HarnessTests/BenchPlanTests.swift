import Foundation
import Harness
import RequestVocabulary
import Testing

@Suite struct BenchPlanTests {
    private func plan(coordinator: String? = "tcp://h:1", lengths: [Int] = [100], configs: String = "full",
                      requests: Int = 1, concurrency: Int = 1, maxTokens: Int = 4, timeout: Double = 60,
                      aggregated: Bool = true, submit: String? = "/bin/fastkv") throws -> BenchPlan {
        try BenchPlan(coordinator: coordinator, lengths: lengths, configs: BenchConfig.parseList(configs), requests: requests,
                      concurrency: concurrency, maxTokens: maxTokens, wireDType: .f32, timeoutSeconds: timeout,
                      outputDirectory: URL(fileURLWithPath: "/tmp/x"), promptFile: nil, modelPath: "m.gguf",
                      runsAggregated: aggregated, submitExecutable: submit, chartScript: "c.gp")
    }

    @Test func countsRowsAndRequestsOverTheModesThatRun() throws {
        let both = try plan(lengths: [100, 200, 300], configs: "full,snapkv:0.1", requests: 3)
        #expect(both.modes == [.aggregated, .cluster] && both.expectedRowCount == 12 && both.requestCount == 36)
        let clusterOnly = try plan(lengths: [100, 200], configs: "full,snapkv:0.1", requests: 2, aggregated: false)
        #expect(clusterOnly.modes == [.cluster] && clusterOnly.expectedRowCount == 4 && clusterOnly.requestCount == 8)
        let baselineOnly = try plan(coordinator: nil, lengths: [100], requests: 5, submit: nil)
        #expect(baselineOnly.modes == [.aggregated] && baselineOnly.expectedRowCount == 1 && baselineOnly.requestCount == 5)
    }

    @Test func recordsTheSettingsAsRun() throws {
        let s = BenchResults.Settings(try plan(coordinator: nil, lengths: [100, 200], configs: "full,fastkv:0.2", submit: "/x"))
        #expect(s.coordinator == nil && s.lengths == [100, 200] && s.configs == ["full", "fastkv:0.2"] && s.wire_dtype == .f32)
        #expect(s.aggregated_model == "m.gguf" && s.submit_executable == nil, "no cluster: no submit binary recorded")
        #expect(s.prompt == "passkey filler (seeded per length, needle at depth 0.5)")
        let c = BenchResults.Settings(try plan(aggregated: false))
        #expect(c.aggregated_model == nil && c.submit_executable == "/bin/fastkv")
    }

    @Test func rejectsEachBadSetting() {
        #expect(throws: HarnessError.invalid(.requests, "must be ≥ 1")) { try plan(requests: 0) }
        #expect(throws: HarnessError.invalid(.concurrency, "must be in 1...256")) { try plan(concurrency: 0) }
        #expect(throws: HarnessError.invalid(.concurrency, "must be in 1...256")) { try plan(concurrency: 257) }
        #expect(throws: HarnessError.invalid(.maxTokens, "must be ≥ 1")) { try plan(maxTokens: 0) }
        for timeout: Double in [0, -1, 86_400, .infinity, .nan] {
            #expect(throws: HarnessError.invalid(.timeout, "must be in (0, 86400) seconds"), "\(timeout)") { try plan(timeout: timeout) }
        }
        #expect(throws: HarnessError.invalid(.lengths, "takes positive prompt lengths, got []")) { try plan(lengths: []) }
        #expect(throws: HarnessError.invalid(.lengths, "takes positive prompt lengths, got [100, 0]")) { try plan(lengths: [100, 0]) }
        #expect(throws: HarnessError.nothingToRun) { try plan(coordinator: nil, aggregated: false) }
        #expect(throws: HarnessError.invalid(.coordinator, "needs the fastkv binary that runs submit")) { try plan(submit: nil) }
        #expect(throws: Never.self) { try plan(concurrency: 256, timeout: 86_399.9) }
    }

    @Test func messagesNameTheFlags() {
        #expect(HarnessError.invalid(.requests, "must be ≥ 1").description == "--requests must be ≥ 1")
        #expect(HarnessError.invalid(.maxTokens, "must be ≥ 1").description == "--max-tokens must be ≥ 1")
        #expect(HarnessError.nothingToRun.description == "nothing to run: give --coordinator or drop --no-aggregated")
        #expect(HarnessError.Setting.allCases.map(\.flag) == [
            "--lengths", "--decode-contexts", "--configs", "--methods", "--depths", "--coordinator", "--requests",
            "--concurrency", "--max-tokens", "--timeout", "--runs", "--decode-tokens", "--batch-sequences", "--batch-context",
            "--tasks", "--fillers", "--templates", "--samples", "--kv-rate", "--kv-budget", "--tsp-len",
        ])
    }
}
