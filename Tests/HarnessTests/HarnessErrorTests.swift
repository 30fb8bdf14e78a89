import Harness
import RequestVocabulary
import Testing

@Suite struct HarnessErrorTests {
    @Test func eachCaseSaysWhatWasExpectedAndFound() {
        #expect(HarnessError.exceedsContext(length: 8000, extra: 256, extraSetting: .maxTokens, contextLength: 8192).description
            == "length 8000 + --max-tokens 256 exceeds the model's context of 8192")
        #expect(HarnessError.exceedsContext(length: 9000, extra: 0, extraSetting: nil, contextLength: 8192).description
            == "length 9000 exceeds the model's context of 8192")
        #expect(HarnessError.unreadablePromptFile(path: "/p.txt").description == "cannot read a non-empty UTF-8 prompt file at /p.txt")
        #expect(HarnessError.submitFailed(status: 3, stderr: "boom").description == "fastkv submit exited with status 3: boom")
        #expect(HarnessError.cannotStart(executable: "/x", reason: "gone").description == "cannot start /x: gone")
        #expect(HarnessError.warmUpFailed(config: "full", reason: "late").description == "warm-up request for full failed: late")
        let knob = RequestError.invalid(.tspLayer, "must be in 0...1, got 5")
        #expect(HarnessError.unsupportedKnobs(.fastKV, knob).description == "tsp_layer (--tsp-layer) must be in 0...1, got 5 (method fastkv)")
        #expect(HarnessError.invalidConfigEntry(entry: "fastkv:1", .knob(knob)).description
            == "--configs entry 'fastkv:1': tsp_layer (--tsp-layer) must be in 0...1, got 5")
    }
}
