import Foundation

extension SuiteRunner {
    /// Runs the plan into `output`: resumes from the rows already there (same plan), rewrites
    /// every file after each cell, and draws the charts at the end.
    /// - Returns: the final results and the chart files drawn (with gnuplot's warnings, if any).
    public func run(into output: SuiteOutput, chartScript: String?, onSample: (String) -> Void = { _ in })
        throws -> (results: SuiteResults, charts: BenchOutput.Charts) {
        let done = try output.resumableRows(plan: plan)
        let formatter = ISO8601DateFormatter()
        var results = SuiteResults(
            commit: MachineInfo.gitCommit(), date: formatter.string(from: Date()), complete: false,
            rows_expected: plan.cells.count * entries.count,
            machine: .init(nproc: ProcessInfo.processInfo.activeProcessorCount, cpu_model: MachineInfo.cpuModel(),
                           memory_bytes: Int(ProcessInfo.processInfo.physicalMemory)),
            model: loaded.path.lastPathComponent, plan: plan,
            rows: done.filter { row in entries.contains { $0.label == row.label } })
        if !done.isEmpty { onSample("resuming: \(done.count) rows already in \(output.files.directory.path)") }
        try output.writeTables(results)
        _ = try run(done: results.rows, onSample: onSample) { cellRows in
            results.rows += cellRows
            try output.writeTables(results)
        }
        results.complete = true
        let charts = chartScript.map { output.drawCharts(results.rows, script: $0) } ?? .init(files: [], warnings: [])
        try output.writeTables(results, charts: charts.files)
        return (results, charts)
    }
}
