import Foundation

/// The files of one bench run directory: results.json, results.csv, chart-data.dat and
/// chart-wire.dat (gnuplot input), README.md, and the charts gnuplot draws from them.
///
/// Every file is replaced atomically (written beside, then renamed), so a reader, or a sweep
/// interrupted at any point, never sees a torn file: the directory always holds the rows so far.
public struct BenchOutput: Sendable {
    public let directory: URL

    /// The chart files the chart script may write, in the order README.md names them.
    public static let chartFiles = ["ttft.svg", "ttft.png", "wire.svg", "wire.png"]

    public init(directory: URL) { self.directory = directory }

    /// Writes every table for `results.rows`; README.md names `charts` (already drawn) if any.
    public func writeTables(_ results: BenchResults, charts: [String] = []) throws {
        try write(PrettyJSON.data(results), to: "results.json")
        try write(Data(BenchReport.csv(results.rows).utf8), to: "results.csv")
        try write(Data(BenchReport.chartData(results.rows).text.utf8), to: "chart-data.dat")
        try write(Data(BenchReport.chartData(results.rows, where: { $0.wire_bytes_p50 != nil }).text.utf8),
                  to: "chart-wire.dat")
        try write(Data(BenchReport.readme(results, charts: charts).utf8), to: "README.md")
    }

    /// What drawing the charts left: the chart files written, and why some or all are missing.
    public struct Charts: Sendable, Equatable {
        public var files: [String]
        public var warnings: [String]
    }

    /// Runs gnuplot on `script` over the chart data of `rows`. No gnuplot, no script or no rows mean
    /// no charts (and a warning), never a failed run.
    public func drawCharts(_ rows: [BenchRow], script: String) -> Charts {
        let seriesCount = BenchReport.chartData(rows).seriesCount
        guard seriesCount > 0 else { return Charts(files: [], warnings: []) }
        guard FileManager.default.fileExists(atPath: script) else {
            return Charts(files: [], warnings: ["no chart script at \(script); skipping charts"])
        }
        let wireCount = BenchReport.chartData(rows, where: { $0.wire_bytes_p50 != nil }).seriesCount
        let aggregatedCount = BenchReport.chartData(rows, where: { $0.mode == .aggregated }).seriesCount
        return runGnuplot(script: script, variables: "nseries=\(seriesCount); nwire=\(wireCount); nagg=\(aggregatedCount)",
                          expecting: Self.chartFiles)
    }

    /// Runs `gnuplot -e "datadir='DIR'; VARIABLES" script` and reports which of `files` it wrote
    /// (shared with `eval suite`'s charts). A missing gnuplot is a warning, never a failed run.
    public func runGnuplot(script: String, variables: String, expecting files: [String]) -> Charts {
        guard FileManager.default.fileExists(atPath: script) else {
            return Charts(files: [], warnings: ["no chart script at \(script); skipping charts"])
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["gnuplot", "-e", "datadir='\(directory.path)'; \(variables)", script]
        p.standardOutput = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        let noGnuplot = Charts(files: [], warnings: [
            "cannot run gnuplot (apt-get install -y --no-install-recommends gnuplot-nox); skipping charts"])
        do { try p.run() } catch { return noGnuplot }
        p.waitUntilExit()
        if p.terminationStatus == 127 { return noGnuplot }  // env: command not found
        let written = files.filter { FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path) }
        if p.terminationStatus != 0 || written.isEmpty {
            return Charts(files: written, warnings: ["gnuplot failed (status \(p.terminationStatus)); charts may be missing"])
        }
        return Charts(files: written, warnings: [])
    }

    /// Replaces `name` in the directory atomically.
    public func write(_ data: Data, to name: String) throws {
        try data.write(to: directory.appendingPathComponent(name), options: .atomic)
    }
}
