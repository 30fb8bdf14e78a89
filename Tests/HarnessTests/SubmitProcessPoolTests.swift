import Foundation
import Harness
import Testing
import TestSupport

@Suite struct SubmitProcessPoolTests {
    private func pool(_ fake: FakeSubmit, concurrency: Int = 1, timeout: Double = 30) -> SubmitProcessPool {
        SubmitProcessPool(executable: fake.executable, coordinator: "tcp://fake:1", concurrency: concurrency,
                          timeoutSeconds: timeout, scratchDirectory: fake.directory.url)
    }

    @Test func passesTheSubmitFlagsThenTheRequestsOwn() throws {
        let fake = try FakeSubmit("pool-args", body: "echo 'progress'; echo '\(FakeSubmit.reportLine())'")
        let batch = try pool(fake, timeout: 12.5).run([["--max-tokens", "3"]]) { _ in }
        #expect(fake.calls == ["submit --coordinator tcp://fake:1 --timeout 12.5 --json --max-tokens 3"])
        let sample = try batch.outcomes[0].get()
        #expect(sample.promptTokens == 100 && sample.ttftMs == 50 && sample.endToEndMs == 90, "the last stdout line is the report")
        #expect(batch.wallMs > 0)
    }

    @Test func outcomesKeepTheRequestOrderAndFailuresAreOutcomes() throws {
        let body = """
            case "$*" in
              *fail*) echo "first line" >&2; echo "no coordinator" >&2; exit 3 ;;
              *garbage*) echo "not json" ;;
              *slow*) sleep 0.3; echo '\(FakeSubmit.reportLine(promptTokens: 1))' ;;
              *) echo '\(FakeSubmit.reportLine(promptTokens: 2))' ;;
            esac
            """
        let fake = try FakeSubmit("pool-order", body: body)
        var done: [Int] = []
        let batch = try pool(fake, concurrency: 4).run([["slow"], ["fail"], ["garbage"], ["ok"]]) { done.append($0) }
        #expect(done == [1, 2, 3, 4])
        #expect(batch.outcomes.count == 4)
        #expect(try batch.outcomes[0].get().promptTokens == 1, "finished last, reported first")
        #expect(throws: HarnessError.submitFailed(status: 3, stderr: "first line\nno coordinator")) { try batch.outcomes[1].get() }
        #expect(throws: HarnessError.badSubmitOutput("not a JSON object")) { try batch.outcomes[2].get() }
        #expect(try batch.outcomes[3].get().promptTokens == 2)
        let left = try FileManager.default.contentsOfDirectory(atPath: fake.directory.url.path).filter { $0.hasPrefix("submit-") }
        #expect(left.isEmpty, "scratch files left: \(left)")
    }

    @Test func neverRunsMoreThanConcurrencyAtOnce() throws {
        // Each child marks itself running, records how many are, and stays a while.
        let body = """
            touch "$DIR/running-$$"; ls "$DIR" | grep -c '^running-' >> "$DIR/counts"
            sleep 0.4; rm "$DIR/running-$$"; echo '\(FakeSubmit.reportLine())'
            """
        let fake = try FakeSubmit("pool-concurrency", body: body)
        let batch = try pool(fake, concurrency: 2).run(Array(repeating: [], count: 5)) { _ in }
        #expect(batch.outcomes.allSatisfy { (try? $0.get()) != nil })
        let counts = try String(contentsOf: fake.directory.file("counts"), encoding: .utf8).split(separator: "\n").compactMap { Int($0) }
        #expect(counts.count == 5 && counts.max() == 2, "in flight: \(counts)")
        #expect(batch.wallMs >= 3 * 400, "5 requests of 0.4 s, 2 at a time, take 3 rounds")
    }

    @Test func aChildThatCannotStartEndsTheBatch() {
        let pool = SubmitProcessPool(executable: "/nonexistent/fastkv", coordinator: "tcp://fake:1", concurrency: 1,
                                     timeoutSeconds: 1, scratchDirectory: FileManager.default.temporaryDirectory)
        #expect {
            _ = try pool.run([[]]) { _ in }
        } throws: { error in
            guard case let .cannotStart(executable, _) = error as? HarnessError else { return false }
            return executable == "/nonexistent/fastkv"
        }
    }
}
