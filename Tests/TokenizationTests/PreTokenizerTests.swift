import Testing
import Tokenization

/// The scanners against Python's `regex` module running the real patterns (Fixtures/pretokenizer_cases.json;
/// the generator also asserts that HF tokenizers' pre-tokenizers agree on every case).
struct PreTokenizerTests {
    @Test(arguments: [PreTokenizer.gpt2, .llama3, .smollm])
    func splitsMatchRegexModule(_ preTokenizer: PreTokenizer) throws {
        #expect(TestData.cases.count >= 40)
        for item in TestData.cases {
            let expected = try #require(item.splits[preTokenizer.rawValue])
            #expect(preTokenizer.split(item.text) == expected, "text: \(item.text.debugDescription)")
        }
    }

    @Test func schemesDisagreeWhereTheyShould() {
        // Digits: GPT-2 keeps runs, Llama 3 groups by three, SmolLM isolates each.
        #expect(PreTokenizer.gpt2.split("x 12345") == ["x", " 12345"])
        #expect(PreTokenizer.llama3.split("x 12345") == ["x", " ", "123", "45"])
        #expect(PreTokenizer.smollm.split("x 12345") == ["x", " ", "1", "2", "3", "4", "5"])
        // Whitespace before a digit (models.md's caveat).
        #expect(PreTokenizer.smollm.split("a  1") == ["a", "  ", "1"])
        #expect(PreTokenizer.gpt2.split("a  1") == ["a", " ", " 1"])
        // Contractions: Llama 3 ignores case.
        #expect(PreTokenizer.gpt2.split("IT'S") == ["IT", "'", "S"])
        #expect(PreTokenizer.llama3.split("IT'S") == ["IT", "'S"])
        // Newlines: Llama 3 keeps them apart from the following word's space.
        #expect(PreTokenizer.llama3.split("a \n\n b") == ["a", " \n\n", " b"])
        #expect(PreTokenizer.gpt2.split("a \n\n b") == ["a", " \n\n", " b"])
        #expect(PreTokenizer.llama3.split("x!\n\ny") == ["x", "!\n\n", "y"])
        #expect(PreTokenizer.gpt2.split("x!\n\ny") == ["x", "!", "\n", "\n", "y"])
        #expect(PreTokenizer.gpt2.split("") == [])
    }

    @Test func longRunsStayLinear() {
        let spaces = String(repeating: " ", count: 20_000) + "x"
        #expect(PreTokenizer.gpt2.split(spaces).count == 2)
        #expect(PreTokenizer.llama3.split(String(repeating: "9", count: 30_000)).count == 10_000)
    }

    @Test func ggufNames() throws {
        #expect(try PreTokenizer(ggufName: "default") == .gpt2)
        #expect(try PreTokenizer(ggufName: "gpt-2") == .gpt2)
        #expect(try PreTokenizer(ggufName: "gpt2") == .gpt2)
        #expect(try PreTokenizer(ggufName: "llama-bpe") == .llama3)
        #expect(try PreTokenizer(ggufName: "llama3") == .llama3)
        #expect(try PreTokenizer(ggufName: "smollm") == .smollm)
        #expect(PreTokenizer(rawValue: "llama-bpe") == .llama3)
    }
}
