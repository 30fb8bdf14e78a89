import Harness
import RequestVocabulary
import Testing

@Suite struct ListArgumentTests {
    @Test func positiveIntegersKeepOrderAndIgnoreBlanksAndEmptyItems() throws {
        #expect(try ListArgument.positiveIntegers("1000,2000", for: .lengths) == [1000, 2000])
        #expect(try ListArgument.positiveIntegers(" 8 , 3,,5 ", for: .lengths) == [8, 3, 5])
        #expect(try ListArgument.positiveIntegers("7", for: .decodeContexts) == [7])
    }

    @Test(arguments: ["", ",", "0", "-1", "12,0", "a", "1,x", "1.5", " "])
    func positiveIntegersRejectWithTheFlagAndTheText(text: String) {
        #expect(throws: HarnessError.invalid(.lengths, "takes a comma-separated list of positive integers, got '\(text)'")) {
            try ListArgument.positiveIntegers(text, for: .lengths)
        }
    }

    @Test func theMessageNamesTheSettingsFlag() {
        let error = HarnessError.invalid(.decodeContexts, "takes a comma-separated list of positive integers, got 'x'")
        #expect(error.description == "--decode-contexts takes a comma-separated list of positive integers, got 'x'")
        #expect(throws: error) { try ListArgument.positiveIntegers("x", for: .decodeContexts) }
    }

    @Test func methodsAreCaseInsensitiveAndKeepOrder() throws {
        #expect(try ListArgument.methods("full,fastkv,snapkv,streamingllm,gemfilter")
            == [.full, .fastKV, .snapKV, .streamingLLM, .gemFilter])
        #expect(try ListArgument.methods(" FastKV , full") == [.fastKV, .full])
    }

    @Test func unknownEmptyAndRepeatedMethodsAreRejected() {
        #expect(throws: HarnessError.invalid(.methods, "names an unknown method 'quest' (use \(CompressionMethod.choices))")) {
            try ListArgument.methods("full, quest ")
        }
        #expect(throws: HarnessError.invalid(.methods, "is empty (use \(CompressionMethod.choices))")) {
            try ListArgument.methods(",")
        }
        #expect(throws: HarnessError.invalid(.methods, "lists fastkv twice")) { try ListArgument.methods("fastkv,full,FASTKV") }
        #expect(HarnessError.invalid(.methods, "lists fastkv twice").description == "--methods lists fastkv twice")
    }
}
