import Engine
import Harness
import Testing

@Suite struct RetrievalEvalTests {
    @Test func wordOverlapIsTheShareOfExpectedWordsFound() {
        #expect(RetrievalEval.wordOverlap(answer: "The CODE is 7 and more", expected: "the code is 9") == 0.75)
        #expect(RetrievalEval.wordOverlap(answer: "x", expected: "a a b") == 0, "distinct words: none found")
        #expect(RetrievalEval.wordOverlap(answer: "b", expected: "a a b") == 0.5, "distinct words: a, b")
        #expect(RetrievalEval.wordOverlap(answer: "anything", expected: "  ") == 0)
    }

    private func result(_ method: String, _ length: Int, hit: Bool) -> RetrievalEval.CaseResult {
        .init(method: method, length: length, prompt_tokens: length - 3, depth: 0.5, expected: "1", answer: hit ? "1" : "2",
              hit: hit, score: hit ? 1 : 0)
    }

    @Test func theTableCountsHitsPerMethodAndLength() {
        let results = [result("full", 4000, hit: true), result("full", 2000, hit: true), result("full", 2000, hit: false),
                       result("fastkv", 2000, hit: false), result("fastkv", 4000, hit: true), result("fastkv", 4000, hit: true)]
        #expect(RetrievalEval.table(results, methods: [.full, .fastKV]) == """
            | method | 2000 tokens | 4000 tokens |
            |---|---:|---:|
            | full | 1/2 | 1/1 |
            | fastkv | 0/1 | 2/2 |
            """)
    }

    @Test func theLogLineShowsTheCase() {
        #expect(result("snapkv", 103, hit: false).logLine == "snapkv N=100 depth=0.50 miss \"2\"")
        #expect(result("full", 103, hit: true).logLine == "full N=100 depth=0.50 hit  \"1\"")
    }

    @Test func passkeyCasesAreSeededPerLengthAndDepth() throws {
        let count = { (s: String) in s.split(separator: " ").count }
        let cases = try RetrievalEval.passkeyCases(lengths: [300, 600], depthCount: 2, seed: 5, countTokens: count)
        #expect(cases.keys.sorted() == [300, 600] && cases[300]!.map(\.depth) == [0.25, 0.75])
        for (length, list) in cases {
            for (i, c) in list.enumerated() {
                let direct = try RetrievalTask.passkey(tokens: length, depth: c.depth, seed: 5 + UInt64(length * 100 + i), countTokens: count)
                #expect(c.prompt == direct.prompt && c.expected == direct.expected)
            }
        }
        // The key of depth i at length n depends on the seed, n and i only: more lengths or depths keep it.
        let more = try RetrievalEval.passkeyCases(lengths: [600, 900], depthCount: 3, seed: 5, countTokens: count)
        #expect(more[600]!.prefix(2).map(\.expected) == cases[600]!.map(\.expected))
        #expect(Set(cases[300]!.map(\.expected)).count == 2, "each depth has its own key")
    }

    @Test func needleCasesPlaceTheNeedleAtEachDepth() throws {
        let hay = String(repeating: "Grass grows. Water flows. ", count: 200)
        let cases = try RetrievalEval.needleCases(lengths: [100], depthCount: 4, haystack: hay, needle: "The code is 42.",
                                                  question: "What is the code?", expected: "42") { $0.split(separator: " ").count }
        let list = try #require(cases[100])
        #expect(list.map(\.depth) == [0.125, 0.375, 0.625, 0.875] && list.allSatisfy { $0.expected == "42" })
        let offsets = list.map { $0.prompt.range(of: "The code is 42.")!.lowerBound.utf16Offset(in: $0.prompt) }
        #expect(offsets == offsets.sorted() && Set(offsets).count == 4, "deeper needles sit later: \(offsets)")
    }

    @Test func depthsAreChecked() {
        #expect(throws: HarnessError.invalid(.depths, "must be ≥ 1")) {
            try RetrievalEval.passkeyCases(lengths: [100], depthCount: 0, seed: 1) { _ in 1 }
        }
        #expect(throws: HarnessError.invalid(.depths, "must be ≥ 1")) {
            try RetrievalEval.needleCases(lengths: [100], depthCount: -1, haystack: "h", needle: "n", question: "q", expected: "e") { _ in 1 }
        }
    }
}
