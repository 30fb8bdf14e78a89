import Foundation
import RequestVocabulary
import Testing

struct CompressionConfigTests {
    /// Each rule names its knob in both spellings (CLI flag and JSON field).
    @Test func invalidKnobsAreRejectedByName() {
        for (make, knob) in [
        ({ _ = try CompressionConfig(method: .fastKV, retainRate: 0) }, RequestError.Knob.kvRate),
        ({ _ = try CompressionConfig(method: .fastKV, retainRate: 1.5) }, .kvRate),
        ({ _ = try CompressionConfig(method: .snapKV, retainRate: .nan) }, .kvRate),
        ({ _ = try CompressionConfig(method: .fastKV, kvBudget: 0) }, .kvBudget),
        ({ _ = try CompressionConfig(method: .fastKV, tspRate: 0) }, .tspRate),
        ({ _ = try CompressionConfig(method: .fastKV, tspRate: .infinity) }, .tspRate),
        ({ _ = try CompressionConfig(method: .fastKV, tspLength: 0) }, .tspLength),
        ({ _ = try CompressionConfig(method: .fastKV, tspLayer: -1) }, .tspLayer),
        ({ _ = try CompressionConfig(method: .fastKV, windowSize: 0) }, .window),
        ({ _ = try CompressionConfig(method: .fastKV, kernelSize: 6) }, .kernel),
        ({ _ = try CompressionConfig(method: .fastKV, kernelSize: -1) }, .kernel),
        ({ _ = try CompressionConfig(method: .adaKV, adaAlpha: -0.1) }, .adaAlpha),
        ({ _ = try CompressionConfig(method: .adaKV, adaAlpha: 1.5) }, .adaAlpha),
        ({ _ = try CompressionConfig(method: .headKV, headKVBeta: 0.9) }, .headkvBeta),
        ({ _ = try CompressionConfig(method: .headKV, headKVBeta: .nan) }, .headkvBeta),
        ({ _ = try CompressionConfig(method: .headKV, headKVTemperature: 0) }, .headkvTemperature),
        ({ _ = try CompressionConfig(method: .headKV, headKVTemperature: .infinity) }, .headkvTemperature),
        ] as [(() throws -> Void, RequestError.Knob)] {
            #expect {
                try make()
            } throws: { error in
                guard let e = error as? RequestError else { return false }
                return e.knob == knob && "\(e)".contains(knob.flag) && "\(e)".contains(knob.field)
            }
        }
    }

    @Test func modelDependentRules() throws {
        #expect(throws: RequestError.self) { try CompressionConfig(method: .fastKV, tspLayer: 30).validate(layerCount: 30) }
        // FastKV needs a layer after ℓ_T; SnapKV ignores ℓ_T, GemFilter may filter at the last layer.
        #expect(throws: RequestError.self) { try CompressionConfig(method: .fastKV, tspLayer: 29).validate(layerCount: 30) }
        try CompressionConfig(method: .gemFilter, tspLayer: 29).validate(layerCount: 30)
        try CompressionConfig(method: .fastKV).validate(layerCount: 30)
        // A 2-layer model: ℓ_T = 0 leaves layer 1; a 1-layer model cannot run FastKV.
        try CompressionConfig(method: .fastKV).validate(layerCount: 2)
        #expect(throws: RequestError.self) { try CompressionConfig(method: .fastKV).validate(layerCount: 1) }
    }

    @Test func defaultTSPLayerIsHalfMinusOne() throws {
        #expect(try CompressionConfig(method: .fastKV).resolvedTSPLayer(layerCount: 30) == 14)
        #expect(try CompressionConfig(method: .fastKV).resolvedTSPLayer(layerCount: 32) == 15)
        #expect(try CompressionConfig(method: .fastKV, tspLayer: 3).resolvedTSPLayer(layerCount: 32) == 3)
    }

    /// One set of defaults: the paper's current setting.
    @Test func defaults() throws {
        let c = try CompressionConfig(method: .fastKV)
        #expect(c.retainRate == 0.1 && c.tspRate == 0.2 && c.windowSize == 8 && c.kernelSize == 7)
        #expect(c.pooling == .max && c.kvBudget == nil && c.tspLength == nil && c.tspLayer == nil)
        #expect(c.adaAlpha == 0.2 && c.headKVBeta == 1.2 && c.headKVTemperature == 1)
        #expect(CompressionConfig.full.method == .full)
    }

    @Test func withMethodKeepsEveryKnob() throws {
        let c = try CompressionConfig(method: .fastKV, retainRate: 0.3, kvBudget: 64, tspRate: 0.4, tspLength: 99,
                                      tspLayer: 5, windowSize: 4, kernelSize: 3, pooling: .avg, adaAlpha: 0.4,
                                      headKVBeta: 3, headKVTemperature: 2)
        let s = c.with(method: .snapKV)
        #expect(s.method == .snapKV)
        #expect(try s == CompressionConfig(method: .snapKV, retainRate: 0.3, kvBudget: 64, tspRate: 0.4, tspLength: 99,
                                           tspLayer: 5, windowSize: 4, kernelSize: 3, pooling: .avg, adaAlpha: 0.4,
                                           headKVBeta: 3, headKVTemperature: 2))
    }

    /// JSON (the HTTP extension field, bench reports) goes through the same checks.
    @Test func jsonRoundTripAndValidation() throws {
        let c = try CompressionConfig(method: .fastKV, retainRate: 0.05, tspLayer: 9, pooling: .avg)
        let data = try JSONEncoder().encode(c)
        #expect(try JSONDecoder().decode(CompressionConfig.self, from: data) == c)
        let knobs = try CompressionConfig(method: .headKV, adaAlpha: 0, headKVBeta: 2, headKVTemperature: 0.5)
        #expect(try JSONDecoder().decode(CompressionConfig.self, from: JSONEncoder().encode(knobs)) == knobs)
        let named = try JSONDecoder().decode(CompressionConfig.self, from: Data(
            #"{"method":"headkv","ada_alpha":0.5,"headkv_beta":1.5,"headkv_temperature":3}"#.utf8))
        #expect(named.adaAlpha == 0.5 && named.headKVBeta == 1.5 && named.headKVTemperature == 3)
        #expect(throws: RequestError.invalid(.headkvBeta, "must be in [1, 1e6] (each head's minimum share is B − ⌊B/β⌋), got 0.5")) {
            try JSONDecoder().decode(CompressionConfig.self, from: Data(#"{"method":"headkv","headkv_beta":0.5}"#.utf8))
        }
        let partial = try JSONDecoder().decode(CompressionConfig.self, from: Data(#"{"method":"snapkv","kv_budget":128}"#.utf8))
        #expect(partial.method == .snapKV && partial.kvBudget == 128 && partial.retainRate == 0.1)
        #expect(throws: RequestError.self) {
            try JSONDecoder().decode(CompressionConfig.self, from: Data(#"{"method":"fastkv","kv_rate":2}"#.utf8))
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(CompressionConfig.self, from: Data(#"{"method":"quest"}"#.utf8))
        }
    }

    @Test func methodNamesAreTheUsersSpelling() {
        #expect(CompressionMethod.allCases.map(\.rawValue) == ["full", "fastkv", "snapkv", "streamingllm", "gemfilter", "adakv", "headkv", "h2o", "pyramidinfer"])
        #expect(CompressionMethod.choices == "full, fastkv, snapkv, streamingllm, gemfilter, adakv, headkv, h2o, pyramidinfer")
        #expect(CompressionMethod.fastKV.changesPrefill && CompressionMethod.gemFilter.changesPrefill)
        #expect(!CompressionMethod.snapKV.changesPrefill)
    }
}

struct SamplingParametersTests {
    @Test func rangesAreChecked() throws {
        for (make, knob) in [
            ({ _ = try SamplingParameters(temperature: -1) }, RequestError.Knob.temperature),
            ({ _ = try SamplingParameters(temperature: .nan) }, .temperature),
            ({ _ = try SamplingParameters(topK: -1) }, .topK),
            ({ _ = try SamplingParameters(topP: 0) }, .topP),
            ({ _ = try SamplingParameters(topP: 1.01) }, .topP),
            ({ _ = try SamplingParameters(maxTokens: 0) }, .maxTokens),
            ({ _ = try SamplingParameters(stopStrings: ["ok", ""]) }, .stop),
        ] as [(() throws -> Void, RequestError.Knob)] {
            #expect {
                try make()
            } throws: { ($0 as? RequestError)?.knob == knob }
        }
    }

    @Test func seedIsOptionalAndGreedyIsTheDefault() throws {
        let p = try SamplingParameters()
        #expect(p.seed == nil && p.isGreedy && p.maxTokens == 128 && p.stopAtEOS)
        #expect(try SamplingParameters(temperature: 0.7, topK: 1).isGreedy)
        #expect(try !SamplingParameters(temperature: 0.7, seed: 0).isGreedy)
        #expect(try SamplingParameters(seed: 0).seed == 0)
    }
}

struct SmallVocabularyTests {
    @Test func finishReasonsMapToOpenAI() {
        #expect(FinishReason.endOfSequence.openAIName == "stop")
        #expect(FinishReason.stopString.openAIName == "stop")
        #expect(FinishReason.maxTokens.openAIName == "length")
    }

    @Test func errorCodeLabelsAreTheProtoSpelling() {
        #expect(ErrorCode.busy.label == "BUSY")
        #expect(ErrorCode.deadlineExceeded.label == "DEADLINE_EXCEEDED")
        #expect(ErrorCode.workerLost.label == "WORKER_LOST")
    }

    @Test func durations() {
        #expect(Duration.milliseconds(1500).milliseconds == 1500)
        #expect(Duration.microseconds(2500).wholeMilliseconds == 2)
        #expect(Duration.seconds(3).seconds == 3)
        #expect(WireDType.f16.byteWidth == 2 && WireDType.f32.byteWidth == 4)
    }
}
