import Foundation
import Harness
import Testing

private let unusedDirectory = URL(fileURLWithPath: "/nonexistent/bench")

@Suite struct BenchReportTests {
    @Test func csvHasTheContractHeaderThenOneLinePerRow() throws {
        let csv = BenchReport.csv([try BenchFixtures.clusterRow(), try BenchFixtures.aggregatedRow()])
        let lines = csv.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(csv.hasSuffix("\n") && lines.count == 4 && lines[3].isEmpty)
        #expect(lines[0] == "mode,config,method,kv_rate,tsp_rate,target_tokens,prompt_tokens,requests,errors,ttft_p50_ms,"
            + "ttft_p90_ms,prefill_p50_ms,wire_bytes_p50,header_bytes_p50,full_kv_wire_bytes,wire_ratio_to_full,"
            + "transfer_p50_ms,second_token_p50_ms,decode_tokens_per_s_p50,e2e_p50_ms,e2e_p90_ms,throughput_rps,"
            + "queueing_p50_ms,prefill_compute_p50_ms,kv_encode_p50_ms,wire_p50_ms,install_p50_ms,exposed_transfer_p50_ms")
        // Whole numbers print as integers, fractions with up to 10 significant digits.
        #expect(lines[1] == "cluster,fastkv:0.1:0.2,fastkv,0.1,0.2,300,300,4,1,200,300,80,1100,11,4000,0.275,6,210,20,500,600,2,"
            + "2,70,0,3,0.5,4.5")
        // Absent values are empty fields; 2 requests in 0.51 s = 3.921568627… req/s.
        #expect(lines[2] == "aggregated,full,full,,,300,298,2,0,80,90,75,,,,,,120.25,40,250,260,3.921568627,,75,,,,")
    }

    @Test func csvQuotesAFieldWithACommaOrAQuote() throws {
        var row = try BenchFixtures.aggregatedRow()
        row.config = "odd,\"label\""
        let line = BenchReport.csv([row]).split(separator: "\n")[1]
        #expect(line.hasPrefix("aggregated,\"odd,\"\"label\"\"\",full,"))
    }

    @Test func csvOfNoRowsIsTheHeader() {
        #expect(BenchReport.csv([]) == BenchRow.csvColumns.joined(separator: ",") + "\n")
    }

    @Test func theMarkdownTableHasOneLinePerRowWithUnitsAndDashes() throws {
        let table = BenchReport.markdownTable([try BenchFixtures.clusterRow(), try BenchFixtures.aggregatedRow()])
        let lines = table.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("| mode | config | N | TTFT p50 | TTFT p90 | prefill | wire | wire/full | transfer | exposed |"))
        #expect(lines[1].split(separator: "|").count == lines[0].split(separator: "|").count)
        #expect(lines[2] == "| cluster | fastkv:0.1:0.2 | 300 | 200 | 300 | 80 | 1.1 KiB | 0.275 | 6.0 | 4.5 | 210 | 20.0 | 500 | "
            + "2.00 | 2.0 | 70 | 0.0 | 3.0 | 0.5 | 1 |")
        #expect(lines[3] == "| aggregated | full | 298 | 80 | 90 | 75 | – | – | – | – | 120 | 40.0 | 250 | 3.92 | – | 75 | – | – | – | 0 |")
    }

    @Test func wireBytesOfAMebibyteOrMorePrintInMiB() throws {
        var row = try BenchFixtures.clusterRow()
        row.wire_bytes_p50 = 3 * 1_048_576
        #expect(BenchReport.markdownTable([row]).contains("| 3.00 MiB |"))
    }

    @Test func chartDataHasOneTitledBlockPerSeriesSortedByLength() throws {
        var long = try BenchFixtures.clusterRow()
        long.prompt_tokens = 600
        long.ttft_p50_ms = 412.5
        let rows = [long, try BenchFixtures.aggregatedRow(), try BenchFixtures.clusterRow()]
        let all = BenchReport.chartData(rows)
        #expect(all.seriesCount == 2)
        #expect(all.text == "\"cluster fastkv:0.1:0.2\" ttft wire second\n300 200 1100 210\n600 412.5 1100 210\n\n\n"
            + "\"aggregated full\" ttft wire second\n298 80 NaN 120.25\n\n\n")
        let wire = BenchReport.chartData(rows, where: { $0.wire_bytes_p50 != nil })
        #expect(wire.seriesCount == 1 && !wire.text.contains("aggregated"))
        #expect(BenchReport.chartData([]).seriesCount == 0 && BenchReport.chartData([]).text.isEmpty)
    }

    @Test func theReadmeOfAPartialRunSaysSoAndHoldsTheTable() throws {
        let rows = [try BenchFixtures.aggregatedRow()]
        let readme = BenchReport.readme(try BenchFixtures.results(rows: rows, complete: false, directory: unusedDirectory), charts: [])
        #expect(readme.hasPrefix("# fastkv bench results\n"))
        #expect(readme.contains("- commit: abc123\n"))
        #expect(readme.contains("- machine: 2 CPUs (Test CPU), 3.0 GiB memory, CPU steal during the run 12.5%\n"))
        #expect(readme.contains("- coordinator: tcp://127.0.0.1:5555\n"))
        #expect(readme.contains("- lengths: 300, 600 tokens; prompt: passkey filler"))
        #expect(readme.contains("- configs: full, fastkv:0.1:0.2\n"))
        #expect(readme.contains("- requests per config and length: 4; concurrency: 2; max tokens: 8; wire dtype: f16\n"))
        #expect(readme.contains("**Partial run:** 1 of 8 rows so far"))
        #expect(readme.contains(BenchReport.markdownTable(rows)))
        #expect(readme.contains("Files: results.json, results.csv.\n") && !readme.contains("ttft.svg"))
    }

    @Test func theReadmeOfACompleteRunNamesItsCharts() throws {
        var results = try BenchFixtures.results(rows: [try BenchFixtures.clusterRow()], complete: true, directory: unusedDirectory)
        results.commit = nil
        results.machine.cpu_steal_share_during_run = nil
        let readme = BenchReport.readme(results, charts: ["ttft.svg", "wire.svg"])
        #expect(!readme.contains("Partial run"))
        #expect(readme.contains("- commit: unknown (not a git checkout)\n"))
        #expect(readme.contains("3.0 GiB memory\n"), "no steal figure without counters")
        #expect(readme.contains("Files: results.json, results.csv, ttft.svg, wire.svg.\n"))
        #expect(readme.hasSuffix("\n![TTFT vs length](ttft.svg)\n\n![wire bytes vs length](wire.svg)\n"))
    }
}
