import ArgumentParser
import Foundation
import Harness

/// `fastkv eval suite-table`: one Markdown table of the suite averages over several `eval suite`
/// folders (runs at different lengths or templates, or with different samples), with the same
/// intervals as each folder's own README.
struct SuiteTableEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suite-table",
        abstract: "One table of suite averages (± 95 % half-widths) across several eval suite folders.")

    @Argument(help: "eval suite output folders (each holds a results.json).") var folders: [String]
    @Option(help: "Also print every cell's score for full and the labels ending in this budget, e.g. \"r=0.1\".")
    var perTask: String?
    @Option(help: ArgumentHelp("Also print this label against full and every label at its budget, paired over the same samples, e.g. \"fastkv r=0.1\".",
                               discussion: "Needs folders written since eval suite kept per-sample scores (sample_scores in results.json)."))
    var paired: String?

    func run() throws {
        let runs = try folders.map { folder in
            let url = URL(fileURLWithPath: folder)
            return (name: url.standardizedFileURL.lastPathComponent, results: try SuiteOutput.results(in: url))
        }
        print(SuiteReport.combinedTable(runs, perTaskSuffix: perTask), terminator: "")
        if let paired {
            print("\n" + SuiteReport.pairedTable(runs.map(\.results.rows), label: paired), terminator: "")
        }
    }
}
