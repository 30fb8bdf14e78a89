import Foundation

/// The files of one `eval suite` folder: results.json, results.csv, chart-budget.dat,
/// chart-pareto.dat, README.md and the charts; every file replaced atomically (`BenchOutput`), so
/// the folder always holds the cells finished so far and a rerun resumes from them.
public struct SuiteOutput: Sendable {
    public let files: BenchOutput
    public static let chartFiles = ["accuracy-budget.svg", "accuracy-budget.png", "accuracy-ttft.svg", "accuracy-ttft.png"]

    public init(directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        files = BenchOutput(directory: directory)
    }

    var resultsURL: URL { files.directory.appendingPathComponent("results.json") }

    /// The results.json of a suite folder (finished or not), for `eval suite-table`.
    public static func results(in folder: URL) throws(HarnessError) -> SuiteResults {
        let url = folder.appendingPathComponent("results.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw .unreadableResults(path: url.path, reason: "no such file (is \(folder.path) an eval suite --out folder?)")
        }
        do { return try JSONDecoder().decode(SuiteResults.self, from: Data(contentsOf: url)) } catch {
            throw .unreadableResults(path: url.path, reason: "\(error)")
        }
    }

    /// The rows of an earlier run of the same plan in this folder (none when there is no results.json).
    /// - Throws: `HarnessError.cannotResume` when the file is unreadable or its plan differs.
    public func resumableRows(plan: SuitePlan) throws(HarnessError) -> [SuiteRow] {
        guard FileManager.default.fileExists(atPath: resultsURL.path) else { return [] }
        let old: SuiteResults
        do { old = try JSONDecoder().decode(SuiteResults.self, from: Data(contentsOf: resultsURL)) } catch {
            throw .cannotResume(path: resultsURL.path, reason: "unreadable results.json (\(error)); use another --out")
        }
        guard old.plan == plan else {
            throw .cannotResume(path: resultsURL.path, reason: "it was run with other settings; use another --out or the same flags")
        }
        return old.rows
    }

    /// Writes every table for `results`; README.md names `charts` if any.
    public func writeTables(_ results: SuiteResults, charts: [String] = []) throws {
        try files.write(PrettyJSON.data(results), to: "results.json")
        try files.write(Data(SuiteReport.csv(results.rows).utf8), to: "results.csv")
        try files.write(Data(SuiteReport.budgetChartData(results.rows).text.utf8), to: "chart-budget.dat")
        try files.write(Data(SuiteReport.paretoChartData(results.rows).text.utf8), to: "chart-pareto.dat")
        try files.write(Data(SuiteReport.readme(results, charts: charts).utf8), to: "README.md")
    }

    /// Draws the charts with `script` (scripts/suite-charts.gp); no gnuplot means a warning.
    public func drawCharts(_ rows: [SuiteRow], script: String) -> BenchOutput.Charts {
        let series = SuiteReport.budgetChartData(rows).seriesCount
        guard series > 0 else { return .init(files: [], warnings: ["no cell above chance: no charts"]) }
        return files.runGnuplot(script: script, variables: "nseries=\(series)", expecting: Self.chartFiles)
    }
}
