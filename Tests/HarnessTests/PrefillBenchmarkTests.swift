import Harness
import RequestVocabulary
import Testing

@Suite struct PrefillBenchmarkTests {
    private func samples(ttft: [Double], cpu: [Double] = [1, 2, 3], rates: [Double], kept: Double, skipped: Double)
        -> PrefillBenchmark.Samples
    {
        var s = PrefillBenchmark.Samples()
        s.ttftMs = ttft
        s.cpuSeconds = cpu
        s.decodeRates = rates
        s.keptShare = kept
        s.skippedFlopShare = skipped
        return s
    }

    @Test func rowsAreMediansAndRatiosWithinEachRound() {
        // Rounds: full TTFT 100 300 200, fastkv 50 100 200 → full/fastkv 2, 3, 1 → median 2.
        // Decode: full 10 20 40, fastkv 12 18 20 → fastkv/full 1.2, 0.9, 0.5 → median 0.9.
        let full = samples(ttft: [100, 300, 200], rates: [10, 20, 40], kept: 1, skipped: 0)
        let fast = samples(ttft: [50, 100, 200], cpu: [0.5, 0.25, 0.75], rates: [12, 18, 20], kept: 0.1, skipped: 0.4)
        let rows = PrefillBenchmark.rows(length: 2048, methods: [.full, .fastKV], samples: [full, fast])
        #expect(rows.count == 2)
        #expect(rows[0] == .init(prompt_tokens: 2048, method: "full", ttft_ms: 200, ttft_ratio_full_over_method: 1, ttft_cpu_s: 2,
                                 decode_tokens_per_s: 20, decode_ratio_method_over_full: 1, kv_kept_share: 1,
                                 prefill_flops_skipped_share: 0))
        #expect(rows[1] == .init(prompt_tokens: 2048, method: "fastkv", ttft_ms: 100, ttft_ratio_full_over_method: 2, ttft_cpu_s: 0.5,
                                 decode_tokens_per_s: 18, decode_ratio_method_over_full: 0.9, kv_kept_share: 0.1,
                                 prefill_flops_skipped_share: 0.4))
    }

    @Test func theMedianOfTheRatiosIsNotTheRatioOfTheMedians() {
        // full 100 200 400, snapkv 100 50 400 → ratios 1, 4, 1 → median 1; the medians' ratio is 200/100 = 2.
        let full = samples(ttft: [100, 200, 400], rates: [], kept: 1, skipped: 0)
        let snap = samples(ttft: [100, 50, 400], rates: [], kept: 0.2, skipped: 0)
        let rows = PrefillBenchmark.rows(length: 10, methods: [.snapKV, .full], samples: [snap, full])
        #expect(rows.map(\.method) == ["snapkv", "full"], "rows follow the methods' order; full need not be first")
        #expect(rows[0].ttft_ratio_full_over_method == 1 && rows[0].ttft_ms == 100)
        #expect(rows[0].decode_tokens_per_s == 0 && rows[0].decode_ratio_method_over_full == 0, "no decode measured")
    }

    @Test func anEvenNumberOfRoundsAveragesTheMiddleTwo() {
        let full = samples(ttft: [100, 200], cpu: [1, 2], rates: [10, 30], kept: 1, skipped: 0)
        let fast = samples(ttft: [50, 50], cpu: [1, 1], rates: [10, 10], kept: 0.1, skipped: 0.3)
        let rows = PrefillBenchmark.rows(length: 8, methods: [.full, .fastKV], samples: [full, fast])
        #expect(rows[0].ttft_ms == 150 && rows[0].ttft_cpu_s == 1.5 && rows[0].decode_tokens_per_s == 20)
        #expect(rows[1].ttft_ratio_full_over_method == 3 && rows[1].decode_ratio_method_over_full == (1 + 1.0 / 3) / 2)
    }

    @Test func withoutFullThereAreNoRatiosToReport() {
        #expect(PrefillBenchmark.rows(length: 8, methods: [.fastKV], samples: [samples(ttft: [1], rates: [], kept: 0, skipped: 0)]).isEmpty)
    }

    @Test func theTableLineFormatsEachColumn() {
        let row = PrefillBenchmark.Row(prompt_tokens: 4096, method: "fastkv", ttft_ms: 1234.6, ttft_ratio_full_over_method: 2.346,
                                       ttft_cpu_s: 3.04, decode_tokens_per_s: 41.26, decode_ratio_method_over_full: 1.004,
                                       kv_kept_share: 0.1, prefill_flops_skipped_share: 0.4567)
        #expect(row.tableLine == "| 4096 | fastkv | 1235 | 2.35 | 3.0 | 41.3 | 1.00 | 10.0% | 45.7% |")
        let header = PrefillBenchmark.tableHeader.split(separator: "\n")
        #expect(header.count == 2 && header[0].split(separator: "|").count == row.tableLine.split(separator: "|").count)
        #expect(header[0] == "| N | method | TTFT ms | full/method | CPU s | decode tok/s | method/full | KV kept | FLOPs skipped |")
    }

    @Test func batchedDecodeSpeedIsOverAllSequences() {
        let b = EngineBenchmark.BatchedDecodeSpeed(sequences: 16, context: 512, medianTokensPerSecond: 400)
        #expect(b.msPerStep == 40, "16 tokens per step at 400 tok/s")
        #expect(b.tableLine == "| 16 | 512 | 40.00 | 400.0 |")
        #expect(EngineBenchmark.BatchedDecodeSpeed.tableHeader.hasPrefix("| batched decode sequences |"))
    }

    @Test func countsAreChecked() {
        #expect(throws: HarnessError.invalid(.runs, "must be ≥ 1")) { try PrefillBenchmark.validate(rounds: 0, decodeTokens: 0) }
        #expect(throws: HarnessError.invalid(.decodeTokens, "must be ≥ 0")) { try PrefillBenchmark.validate(rounds: 1, decodeTokens: -1) }
        #expect(throws: Never.self) { try PrefillBenchmark.validate(rounds: 1, decodeTokens: 0) }
    }
}

@Suite struct EngineBenchmarkTableTests {
    @Test func prefillSpeedIsTokensOverTheMedianTime() {
        let s = EngineBenchmark.PrefillSpeed(tokens: 512, medianMs: 250, medianCPUSeconds: 0.5)
        #expect(s.tokensPerSecond == 2048)
        #expect(s.tableLine == "| 512 | 250.0 | 2048.0 | 0.50 |")
        #expect(EngineBenchmark.PrefillSpeed.tableHeader == "| prefill tokens | ms (median) | tok/s | CPU s per run |\n|---:|---:|---:|---:|")
    }

    @Test func decodeSpeedIsPerToken() {
        let d = EngineBenchmark.DecodeSpeed(context: 2048, medianTokensPerSecond: 40, fastestStepMs: 20.123)
        #expect(d.msPerToken == 25)
        #expect(d.tableLine == "| 2048 | 25.00 | 40.0 | 20.12 |")
    }

    @Test func batchedDecodeSpeedIsOverAllSequences() {
        let b = EngineBenchmark.BatchedDecodeSpeed(sequences: 16, context: 512, medianTokensPerSecond: 400)
        #expect(b.msPerStep == 40, "16 tokens per step at 400 tok/s")
        #expect(b.tableLine == "| 16 | 512 | 40.00 | 400.0 |")
        #expect(EngineBenchmark.BatchedDecodeSpeed.tableHeader.hasPrefix("| batched decode sequences |"))
    }

    @Test func countsAreChecked() {
        #expect(throws: HarnessError.invalid(.runs, "must be ≥ 1")) { try EngineBenchmark.validate(runs: 0, decodeTokens: 1) }
        #expect(throws: HarnessError.invalid(.decodeTokens, "must be ≥ 1")) { try EngineBenchmark.validate(runs: 1, decodeTokens: 0) }
    }
}
