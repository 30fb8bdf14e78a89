import Foundation
import Harness
import Testing
import TestSupport

@Suite struct BenchOutputTests {
    @Test func writesEveryTableForTheRowsSoFar() throws {
        let tmp = try TemporaryDirectory("harness-output")
        let rows = [try BenchFixtures.aggregatedRow(), try BenchFixtures.clusterRow()]
        let results = try BenchFixtures.results(rows: rows, complete: false, directory: tmp.url)
        try BenchOutput(directory: tmp.url).writeTables(results)

        func text(_ name: String) throws -> String { try String(contentsOf: tmp.file(name), encoding: .utf8) }
        #expect(try JSONDecoder().decode(BenchResults.self, from: Data(contentsOf: tmp.file("results.json"))) == results)
        #expect(try text("results.csv") == BenchReport.csv(rows))
        #expect(try text("chart-data.dat") == BenchReport.chartData(rows).text)
        #expect(try text("chart-wire.dat") == BenchReport.chartData(rows, where: { $0.mode == .cluster }).text)
        #expect(try text("README.md") == BenchReport.readme(results, charts: []))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: tmp.url.path).sorted()
        #expect(leftovers == ["README.md", "chart-data.dat", "chart-wire.dat", "results.csv", "results.json"])
    }

    @Test func resultsJSONHasTheContractKeys() throws {
        let tmp = try TemporaryDirectory("harness-output-keys")
        let results = try BenchFixtures.results(rows: [try BenchFixtures.clusterRow()], complete: true, directory: tmp.url)
        try BenchOutput(directory: tmp.url).writeTables(results)
        let data = try Data(contentsOf: tmp.file("results.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["commit", "date", "complete", "rows_expected", "machine", "settings", "rows"])
        let machine = try #require(object["machine"] as? [String: Any])
        #expect(Set(machine.keys) == ["nproc", "cpu_model", "memory_bytes", "cpu_steal_share_during_run"])
        let settings = try #require(object["settings"] as? [String: Any])
        #expect(Set(settings.keys) == ["coordinator", "lengths", "configs", "requests", "concurrency", "max_tokens",
                                       "wire_dtype", "prompt", "aggregated_model", "submit_executable"])
        #expect(settings["wire_dtype"] as? String == "f16" && settings["configs"] as? [String] == ["full", "fastkv:0.1:0.2"])
        #expect(settings["submit_executable"] as? String == "/opt/fastkv" && settings["aggregated_model"] as? String == "models/m.gguf")
        #expect(object["complete"] as? Bool == true && (object["rows_expected"] as? NSNumber)?.intValue == 8)
        // Pretty-printed with sorted keys, so runs diff line by line.
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\n  \"commit\" : \"abc123\",\n  \"complete\" : true,"))
    }

    @Test func rewritingReplacesTheFiles() throws {
        let tmp = try TemporaryDirectory("harness-output-rewrite")
        let output = BenchOutput(directory: tmp.url)
        try output.writeTables(try BenchFixtures.results(rows: [try BenchFixtures.clusterRow()], complete: false, directory: tmp.url))
        try output.writeTables(try BenchFixtures.results(rows: [], complete: false, directory: tmp.url))
        #expect(try String(contentsOf: tmp.file("results.csv"), encoding: .utf8) == BenchReport.csv([]))
    }

    @Test func chartsNeedRowsAndAScript() throws {
        let tmp = try TemporaryDirectory("harness-output-charts")
        let output = BenchOutput(directory: tmp.url)
        let none = output.drawCharts([], script: "/nonexistent.gp")
        #expect(none.files.isEmpty && none.warnings.isEmpty, "no rows, nothing to draw, nothing to say")
        let missing = output.drawCharts([try BenchFixtures.clusterRow()], script: "/nonexistent.gp")
        #expect(missing.files.isEmpty && missing.warnings == ["no chart script at /nonexistent.gp; skipping charts"])
    }
}
