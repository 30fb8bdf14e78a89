import Engine
import Foundation
import Harness
import Testing
import TestSupport

extension ModelTests {
    @Suite struct BenchSweepTests {
        private func plan(_ out: URL, coordinator: String? = nil, submit: FakeSubmit? = nil, configs: String = "full,snapkv:0.5",
                          lengths: [Int] = [100], aggregated: Bool = true, maxTokens: Int = 2,
                          concurrency: Int = 2) throws -> BenchPlan {
            try BenchPlan(coordinator: coordinator, lengths: lengths, configs: BenchConfig.parseList(configs), requests: 2,
                          concurrency: concurrency, maxTokens: maxTokens, wireDType: .f16, timeoutSeconds: 20, outputDirectory: out,
                          promptFile: nil, modelPath: "smollm2", runsAggregated: aggregated,
                          submitExecutable: submit?.executable, chartScript: "/nonexistent/bench-charts.gp")
        }

        private func resultsOnDisk(_ dir: URL) throws -> BenchResults {
            try JSONDecoder().decode(BenchResults.self, from: Data(contentsOf: dir.appendingPathComponent("results.json")))
        }

        @Test func eachRowIsOnDiskBeforeTheNextStarts() throws {
            let tmp = try TemporaryDirectory("sweep-rows")
            let fake = try FakeSubmit("sweep-rows-submit", body: "echo '\(FakeSubmit.reportLine(promptTokens: 99))'")
            let sweep = try BenchSweep(plan: plan(tmp.url, coordinator: "tcp://fake:1", submit: fake, lengths: [100, 150]),
                                       model: ModelTests.model())
            var written: [Int] = [], done: [Int] = [], sawEnd = false, warnings: [String] = []
            let (results, charts) = try sweep.run { event in
                switch event {
                case let .rowWritten(row, rowCount):
                    // What an interrupted sweep would leave right now: this row last, marked incomplete.
                    let disk = try? resultsOnDisk(tmp.url)
                    #expect(disk?.rows.count == rowCount && disk?.rows.last == row && disk?.complete == false)
                    #expect(disk?.rows_expected == 8)
                    let csv = (try? String(contentsOf: tmp.file("results.csv"), encoding: .utf8)) ?? ""
                    #expect(csv.split(separator: "\n").count == rowCount + 1)
                    let readme = (try? String(contentsOf: tmp.file("README.md"), encoding: .utf8)) ?? ""
                    #expect(readme.contains("**Partial run:** \(rowCount) of 8 rows so far"))
                    written.append(rowCount)
                case let .requestDone(_, _, _, n, total):
                    #expect(total == 16)
                    done.append(n)
                case .requestsDone: sawEnd = true
                case let .warning(w): warnings.append(w)
                case .requestFailed: Issue.record("no request should fail")
                }
            }
            #expect(written == Array(1...8) && done == Array(1...16) && sawEnd)
            #expect(charts.isEmpty && warnings == ["no chart script at /nonexistent/bench-charts.gp; skipping charts"])
            #expect(results.complete && results.rows.count == 8)
            #expect(try resultsOnDisk(tmp.url) == results)
            // Aggregated first, then the cluster; length-major within each mode.
            #expect(results.rows.map { "\($0.mode.rawValue) \($0.config) \($0.target_tokens)" } == [
                "aggregated full 100", "aggregated snapkv:0.5 100", "aggregated full 150", "aggregated snapkv:0.5 150",
                "cluster full 100", "cluster snapkv:0.5 100", "cluster full 150", "cluster snapkv:0.5 150",
            ])
            for row in results.rows where row.mode == .aggregated {
                #expect(row.requests == 2 && row.errors == 0 && row.prompt_tokens <= row.target_tokens)
                #expect(row.prompt_tokens >= row.target_tokens * 8 / 10, "prompt of \(row.prompt_tokens) for \(row.target_tokens)")
                #expect((row.ttft_p50_ms ?? 0) > 0 && row.wire_bytes_p50 == nil)
            }
            for row in results.rows where row.mode == .cluster {
                #expect(row.prompt_tokens == 99 && row.wire_bytes_p50 == 2000 && row.exposed_transfer_p50_ms == 2)
            }
            // One warm-up per config, then 2 requests per (config, length), each naming its prompt file.
            let calls = fake.calls
            #expect(calls.count == 2 + 8)
            // The two warm-ups may run in either order.
            let warmUps = calls.prefix(2)
            #expect(warmUps.contains { $0.contains("prompt-64.txt --max-tokens 2 --wire-dtype f16 --method full") })
            #expect(warmUps.contains { $0.contains("prompt-64.txt") && $0.hasSuffix("--method snapkv --kv-rate 0.5") })
            #expect(calls[2].contains("prompt-100.txt --max-tokens 2 --wire-dtype f16 --method full"))
            #expect(calls.last!.contains("prompt-150.txt") && calls.last!.hasSuffix("--method snapkv --kv-rate 0.5"))
            for n in [64, 100, 150] {
                #expect(FileManager.default.fileExists(atPath: tmp.file("prompts/prompt-\(n).txt").path))
            }
        }

        @Test func aFailedRequestIsAnErrorOfItsRow() throws {
            let tmp = try TemporaryDirectory("sweep-errors")
            // The warm-ups (2 tokens) pass; of the measured requests of full (one at a time), the second fails.
            let body = """
                case "$*" in
                  *"--max-tokens 2 "*) echo '\(FakeSubmit.reportLine())' ;;
                  *"--method full"*) if [ -e "$DIR/flip" ]; then rm "$DIR/flip"; echo "lost" >&2; exit 1; fi
                                     touch "$DIR/flip"; echo '\(FakeSubmit.reportLine())' ;;
                  *) echo '\(FakeSubmit.reportLine())' ;;
                esac
                """
            let fake = try FakeSubmit("sweep-errors-submit", body: body)
            var failures: [String] = []
            let (results, _) = try BenchSweep(plan: plan(tmp.url, coordinator: "tcp://fake:1", submit: fake, aggregated: false,
                                                         maxTokens: 3, concurrency: 1), model: ModelTests.model()).run { event in
                if case let .requestFailed(config, length, error) = event { failures.append("\(config) \(length) \(error)") }
            }
            #expect(failures == ["full 100 fastkv submit exited with status 1: lost"])
            #expect(results.rows.map(\.errors) == [1, 0] && results.rows.map(\.requests) == [2, 2])
        }

        @Test func aClusterThatFailsItsWarmUpLeavesTheBaselineRowsOnDisk() throws {
            let tmp = try TemporaryDirectory("sweep-warmup")
            let fake = try FakeSubmit("sweep-warmup-submit", body: "echo 'no workers' >&2; exit 2")
            let sweep = try BenchSweep(plan: plan(tmp.url, coordinator: "tcp://fake:1", submit: fake, configs: "full"),
                                       model: ModelTests.model())
            #expect(throws: HarnessError.warmUpFailed(config: "full", reason: "fastkv submit exited with status 2: no workers")) {
                _ = try sweep.run()
            }
            let disk = try resultsOnDisk(tmp.url)
            #expect(!disk.complete && disk.rows_expected == 2 && disk.rows.map(\.mode) == [.aggregated])
        }

        @Test func theModelBoundsThePlan() throws {
            let tmp = try TemporaryDirectory("sweep-context")
            let model = try ModelTests.model()
            let context = model.config.contextLength
            #expect(throws: HarnessError.exceedsContext(length: context - 1, extra: 2, extraSetting: .maxTokens, contextLength: context)) {
                _ = try BenchSweep(plan: plan(tmp.url, lengths: [100, context - 1]), model: model)
            }
            #expect(throws: Never.self) { _ = try BenchSweep(plan: plan(tmp.url, lengths: [context - 2]), model: model) }
        }
    }
}
