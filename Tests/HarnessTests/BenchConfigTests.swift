import Harness
import RequestVocabulary
import Testing

@Suite struct BenchConfigTests {
    @Test func fullTakesTheFullConfig() throws {
        let c = try BenchConfig(parsing: "full")
        #expect(c.label == "full" && c.method == .full && c.kvRate == nil && c.tspRate == nil)
        #expect(c.compression == CompressionConfig.full)
        #expect(c.submitArguments == ["--method", "full"])
    }

    @Test func givenRatesAreUsedAndRecorded() throws {
        let c = try BenchConfig(parsing: "fastkv:0.15:0.3")
        #expect(c.label == "fastkv:0.15:0.3" && c.method == .fastKV && c.kvRate == 0.15 && c.tspRate == 0.3)
        #expect(c.compression.retainRate == 0.15 && c.compression.tspRate == 0.3)
        #expect(c.submitArguments == ["--method", "fastkv", "--kv-rate", "0.15", "--tsp-rate", "0.3"])
    }

    @Test func leftOutRatesTakeTheDefaultsButAreNotRecorded() throws {
        let c = try BenchConfig(parsing: "fastkv")
        #expect(c.kvRate == nil && c.tspRate == nil)
        #expect(c.compression.retainRate == CompressionConfig.Defaults.retainRate)
        #expect(c.compression.tspRate == CompressionConfig.Defaults.tspRate)
        #expect(c.submitArguments == ["--method", "fastkv", "--kv-rate", "0.1", "--tsp-rate", "0.2"])
        let s = try BenchConfig(parsing: "snapkv:0.25")
        #expect(s.kvRate == 0.25 && s.tspRate == nil && s.submitArguments == ["--method", "snapkv", "--kv-rate", "0.25"])
    }

    @Test func theLabelLowercasesTheMethodAndKeepsTheRatesAsWritten() throws {
        let c = try BenchConfig(parsing: "  SnapKV:0.10 ")
        #expect(c.label == "snapkv:0.10" && c.kvRate == 0.1)
        #expect(try BenchConfig(parsing: "GemFilter:1").label == "gemfilter:1")
    }

    @Test(arguments: [
        ("nope", "--configs entry 'nope': expected method[:kv_rate[:tsp_rate]] with method one of \(CompressionMethod.choices)"),
        ("", "--configs entry '': expected method[:kv_rate[:tsp_rate]] with method one of \(CompressionMethod.choices)"),
        ("fastkv:0.1:0.2:0.3", "--configs entry 'fastkv:0.1:0.2:0.3': expected method[:kv_rate[:tsp_rate]] with method one of \(CompressionMethod.choices)"),
        ("fastkv:x", "--configs entry 'fastkv:x': kv_rate must be a number, got 'x'"),
        ("fastkv:", "--configs entry 'fastkv:': kv_rate must be a number, got ''"),
        ("fastkv:0.1:y", "--configs entry 'fastkv:0.1:y': tsp_rate must be a number, got 'y'"),
        ("full:0.1", "--configs entry 'full:0.1': full keeps every KV entry and takes no rates"),
        ("snapkv:0.1:0.2", "--configs entry 'snapkv:0.1:0.2': tsp_rate applies to fastkv only"),
        ("fastkv:1.5", "--configs entry 'fastkv:1.5': kv_rate (--kv-rate) must be in (0, 1], got 1.5"),
        ("fastkv:0", "--configs entry 'fastkv:0': kv_rate (--kv-rate) must be in (0, 1], got 0.0"),
        ("fastkv:0.1:2", "--configs entry 'fastkv:0.1:2': tsp_rate (--tsp-rate) must be in (0, 1], got 2.0"),
    ])
    func badEntriesAreRejectedWithAMessageNamingTheEntry(entry: String, message: String) {
        #expect {
            _ = try BenchConfig(parsing: entry)
        } throws: { error in
            (error as? HarnessError)?.description == message
        }
    }

    @Test func theProblemIsTyped() {
        #expect(throws: HarnessError.invalidConfigEntry(entry: "full:0.1", .fullTakesNoRates)) { try BenchConfig(parsing: "full:0.1") }
        #expect(throws: HarnessError.invalidConfigEntry(entry: "streamingllm:0.1:0.2", .tspRateNeedsFastKV)) {
            try BenchConfig(parsing: "streamingllm:0.1:0.2")
        }
        #expect(throws: HarnessError.invalidConfigEntry(entry: "fastkv:a", .notANumber(rate: "kv_rate", found: "a"))) {
            try BenchConfig(parsing: "fastkv:a")
        }
    }

    @Test func aListKeepsOrder() throws {
        let list = try BenchConfig.parseList("full,fastkv:0.1:0.2, snapkv:0.1,gemfilter:0.1")
        #expect(list.map(\.label) == ["full", "fastkv:0.1:0.2", "snapkv:0.1", "gemfilter:0.1"])
    }

    @Test func aListIsNotEmptyAndHoldsNoLabelTwice() {
        #expect(throws: HarnessError.invalid(.configs, "is empty")) { try BenchConfig.parseList("") }
        #expect(throws: HarnessError.invalid(.configs, "is empty")) { try BenchConfig.parseList(",,") }
        #expect(throws: HarnessError.invalid(.configs, "lists full twice")) { try BenchConfig.parseList("full,snapkv,full") }
        #expect(throws: HarnessError.invalid(.configs, "lists fastkv:0.1 twice")) { try BenchConfig.parseList("fastkv:0.1,FastKV:0.1") }
        #expect(HarnessError.invalid(.configs, "is empty").description == "--configs is empty")
        // The first bad entry is the one reported.
        #expect(throws: HarnessError.invalidConfigEntry(entry: "bogus", .syntax)) { try BenchConfig.parseList("full,bogus,full:1") }
    }
}
