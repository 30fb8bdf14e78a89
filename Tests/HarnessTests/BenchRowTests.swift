import Foundation
import Harness
import Testing

@Suite struct BenchRowTests {
    @Test func aClusterRowHoldsTheNearestRankPercentilesOfItsSamples() throws {
        let r = try BenchFixtures.clusterRow()
        #expect(r.mode == .cluster && r.config == "fastkv:0.1:0.2" && r.method == "fastkv")
        #expect(r.kv_rate == 0.1 && r.tsp_rate == 0.2 && r.target_tokens == 300 && r.prompt_tokens == 300)
        #expect(r.requests == 4 && r.errors == 1)
        #expect(r.ttft_p50_ms == 200 && r.ttft_p90_ms == 300 && r.prefill_p50_ms == 80)
        #expect(r.wire_bytes_p50 == 1100 && r.header_bytes_p50 == 11 && r.full_kv_wire_bytes == 4000)
        #expect(r.wire_ratio_to_full == 0.275)
        #expect(r.transfer_p50_ms == 6 && r.second_token_p50_ms == 210 && r.decode_tokens_per_s_p50 == 20)
        #expect(r.e2e_p50_ms == 500 && r.e2e_p90_ms == 600 && r.throughput_rps == 2)
        #expect(r.queueing_p50_ms == 2 && r.prefill_compute_p50_ms == 70 && r.kv_encode_p50_ms == 0)
        #expect(r.wire_p50_ms == 3 && r.install_p50_ms == 0.5 && r.exposed_transfer_p50_ms == 4.5)
    }

    @Test func anAggregatedRowHasNoWireFigures() throws {
        let r = try BenchFixtures.aggregatedRow()
        // Two samples: nearest-rank p50 is the lower, p90 the upper; a stage one sample lacks uses the other.
        #expect(r.ttft_p50_ms == 80 && r.ttft_p90_ms == 90 && r.second_token_p50_ms == 120.25)
        #expect(r.prefill_compute_p50_ms == 75 && r.decode_tokens_per_s_p50 == 40 && r.e2e_p50_ms == 250)
        #expect(r.wire_bytes_p50 == nil && r.wire_ratio_to_full == nil && r.exposed_transfer_p50_ms == nil)
        #expect(r.kv_rate == nil && r.tsp_rate == nil && r.prompt_tokens == 298)
        #expect(abs(r.throughput_rps! - 2 / 0.51) < 1e-12)
    }

    @Test func aBatchWhereEveryRequestFailedHasNoFigures() throws {
        let r = BenchRow(mode: .cluster, config: try BenchConfig(parsing: "full"), targetTokens: 500, samples: [],
                         errors: 3, wallMs: 900)
        #expect(r.requests == 3 && r.errors == 3 && r.prompt_tokens == 0)
        #expect(r.ttft_p50_ms == nil && r.e2e_p50_ms == nil && r.throughput_rps == nil && r.wire_ratio_to_full == nil)
    }

    @Test func noWallTimeMeansNoThroughput() throws {
        let s = BenchSample(promptTokens: 1, ttftMs: 1, prefillMs: 1, secondTokenMs: nil, decodeTokensPerSecond: 1, endToEndMs: 1)
        let r = BenchRow(mode: .aggregated, config: try BenchConfig(parsing: "full"), targetTokens: 1, samples: [s],
                         errors: 0, wallMs: 0)
        #expect(r.throughput_rps == nil)
    }

    @Test func jsonKeysAreTheContractAndAbsentValuesAreLeftOut() throws {
        let cluster = try JSONSerialization.jsonObject(with: PrettyJSON.data(BenchFixtures.clusterRow())) as! [String: Any]
        #expect(Set(cluster.keys) == Set(BenchRow.csvColumns), "every column is a key of a full cluster row")
        #expect(cluster["mode"] as? String == "cluster" && (cluster["wire_bytes_p50"] as? NSNumber)?.doubleValue == 1100)
        let aggregated = try JSONSerialization.jsonObject(with: PrettyJSON.data(BenchFixtures.aggregatedRow())) as! [String: Any]
        #expect(aggregated["mode"] as? String == "aggregated")
        for key in ["kv_rate", "tsp_rate", "wire_bytes_p50", "header_bytes_p50", "full_kv_wire_bytes", "wire_ratio_to_full",
                    "transfer_p50_ms", "exposed_transfer_p50_ms", "queueing_p50_ms", "kv_encode_p50_ms", "wire_p50_ms",
                    "install_p50_ms"] {
            #expect(aggregated[key] == nil, "\(key) present in an aggregated row")
        }
        #expect(Set(aggregated.keys).count == BenchRow.csvColumns.count - 12)
    }

    @Test func jsonRoundTrips() throws {
        let row = try BenchFixtures.clusterRow()
        #expect(try JSONDecoder().decode(BenchRow.self, from: PrettyJSON.data(row)) == row)
    }
}
