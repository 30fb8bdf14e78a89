import Engine
import FastKV
import Foundation
import RequestVocabulary
import TestSupport
import Testing
import Tokenization

enum SharedEngine {
    static let loaded: Result<LoadedModel, Error> = Result {
        try LoadedModel.load(path: Fixtures.requireModel().path)
    }
    static func get() throws -> LoadedModel { try loaded.get() }
}

@Suite(.serialized) struct EngineTests {
    /// The tokenizer built from GGUF metadata reproduces HF's ids for every fixture string.
    @Test func ggufTokenizerMatchesReferenceIds() throws {
        let loaded = try SharedEngine.get()
        let strings = try Fixtures.json("tokenization.json")["strings"] as! [[String: Any]]
        for s in strings {
            let text = s["text"] as! String
            #expect(loaded.tokenizer.encode(text) == (s["ids"] as! [Any]).int32s, "ids differ for \(text.debugDescription)")
            #expect(loaded.tokenizer.decode((s["ids"] as! [Any]).int32s) == s["decoded"] as! String)
        }
        for name in ["pub_capital", "pub_para300"] {
            let golden = try Fixtures.json("golden/\(name).json")
            #expect(try loaded.encodePrompt(golden["text"] as! String, chat: false) == (golden["ids"] as! [Any]).int32s)
        }
    }

    @Test func chatPromptIsOneUserTurnPlusGenerationPrompt() throws {
        let loaded = try SharedEngine.get()
        let golden = try Fixtures.json("golden/pub_chat_capital.json")
        #expect(loaded.chatFormat == .chatML)
        #expect(try loaded.encodePrompt("What is the capital of France?", chat: true) == (golden["ids"] as! [Any]).int32s)
    }

    @Test func answersTheCapitalOfFrance() throws {
        let loaded = try SharedEngine.get()
        let ids = try loaded.encodePrompt("What is the capital of France?", chat: true)
        var streamed = ""
        let r = try Generator(loaded).generate(promptTokens: ids, sampling: try SamplingParameters(maxTokens: 32),
                                               onText: { streamed += $0 })
        #expect(r.text.contains("Paris"), "answer: \(r.text)")
        #expect(streamed == r.text)
        #expect(r.finishReason == .endOfSequence)
        #expect(r.tokens.last == 2, "stops at <|im_end|>")
    }

    @Test func fastKVGenerationReportsSavings() throws {
        let loaded = try SharedEngine.get()
        let text = try Fixtures.json("golden/pub_para300.json")["text"] as! String
        let ids = try loaded.encodePrompt(text, chat: false)
        let config = try CompressionConfig(method: .fastKV, retainRate: 0.1, tspRate: 0.2)
        let r = try Generator(loaded).generate(promptTokens: ids, sampling: try SamplingParameters(maxTokens: 4), compression: config)
        #expect(r.fullEntries == 30 * 3 * ids.count)
        #expect(r.keptEntries < r.fullEntries / 5)
        #expect(r.keptBytes == r.keptEntries * 2 * 64 * 4)
        #expect(r.prefill.skippedFlopShare > 0.3 && r.prefill.skippedFlopShare < 0.6)
    }

    /// Invalid knobs cannot be built (RequestVocabularyTests); what remains is the model's context.
    @Test func promptPlusMaxTokensBeyondTheContextIsRejected() throws {
        let loaded = try SharedEngine.get()
        #expect(throws: EngineError.self) {
            try Generator(loaded).generate(promptTokens: [1], sampling: try SamplingParameters(maxTokens: 9000))
        }
    }
}

struct SamplerTests {
    @Test func greedyPicksTheLowestIndexAmongTies() throws {
        var s = Sampler(try SamplingParameters())
        #expect(s.next([0.1, 3, 3, -1]) == 1)
    }

    /// No seed means a fresh stream per request (OpenAI semantics); 20 draws over 50 tokens at
    /// temperature 1 agree by chance with probability far below 1e-9.
    @Test func unseededSamplingIsNotReproducible() throws {
        let logits: [Float] = (0..<50).map { Float($0 % 7) * 0.1 }
        let p = try SamplingParameters(temperature: 1)
        var a = Sampler(p), b = Sampler(p)
        #expect((0..<20).map { _ in a.next(logits) } != (0..<20).map { _ in b.next(logits) })
    }

    @Test func seededSamplingIsReproducibleAndRespectsFilters() throws {
        let logits: [Float] = (0..<50).map { Float($0 % 7) * 0.3 }
        let p = try SamplingParameters(temperature: 0.8, topK: 10, topP: 0.9, seed: 42)
        var a = Sampler(p), b = Sampler(p)
        let runA = (0..<20).map { _ in a.next(logits) }, runB = (0..<20).map { _ in b.next(logits) }
        #expect(runA == runB)
        // Only the top-10 logits (value 1.8 at indices ≡ 6 mod 7, then 1.5 ...) can be drawn.
        let allowed = Set(logits.indices.sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }.prefix(10))
        #expect(runA.allSatisfy { allowed.contains(Int($0)) })
        var k1 = Sampler(try SamplingParameters(temperature: 1, topK: 1, seed: 3))
        #expect(k1.next(logits) == Sampler.argmax(logits))
        var tinyP = Sampler(try SamplingParameters(temperature: 1, topP: 1e-6, seed: 3))
        #expect(tinyP.next(logits) == Sampler.argmax(logits))
    }
}

struct StopMatcherTests {
    @Test func holdsBackPartialStopStrings() {
        var m = StopMatcher(stopStrings: ["END"])
        #expect(m.push("abc E") == "abc ")
        #expect(m.push("N") == "")
        #expect(m.push("X") == "ENX")
        #expect(m.push(" then EN") == " then ")
        #expect(m.push("D and more") == "")
        #expect(m.stopped)
        #expect(m.finish() == "")
    }

    @Test func flushesAtTheEnd() {
        var m = StopMatcher(stopStrings: ["\n\n"])
        #expect(m.push("line\n") == "line")
        #expect(m.finish() == "\n")
    }
}

struct RetrievalTaskTests {
    @Test func passkeyPromptHidesTheKeyAtTheDepth() throws {
        let count = { (s: String) in s.split(separator: " ").count }
        let shallow = try RetrievalTask.passkey(tokens: 400, depth: 0.1, seed: 7, countTokens: count)
        let deep = try RetrievalTask.passkey(tokens: 400, depth: 0.9, seed: 7, countTokens: count)
        #expect(shallow.expected == deep.expected && shallow.expected.count == 5)
        let a = shallow.prompt.range(of: "The pass key is \(shallow.expected)")!.lowerBound
        let b = deep.prompt.range(of: "The pass key is \(deep.expected)")!.lowerBound
        #expect(shallow.prompt.distance(from: shallow.prompt.startIndex, to: a)
                < deep.prompt.distance(from: deep.prompt.startIndex, to: b))
        #expect(abs(count(shallow.prompt) - 400) < 40)
        #expect(try RetrievalTask.passkey(tokens: 400, depth: 0.5, seed: 8, countTokens: count).expected != shallow.expected)
        #expect(throws: EngineError.self) { try RetrievalTask.passkey(tokens: 100, depth: 0.5, seed: 1, filler: "", countTokens: count) }
    }

    @Test func needleIsInsertedOnASentenceBoundary() throws {
        let count = { (s: String) in s.split(separator: " ").count }
        let hay = String(repeating: "Alpha beta gamma. Delta epsilon. ", count: 50)
        let c = try RetrievalTask.needle(tokens: 120, depth: 0.5, haystack: hay, needle: "The code is 7.",
                                         question: "What is the code?", expected: "7", countTokens: count)
        #expect(c.prompt.contains(". The code is 7. "))
        #expect(c.prompt.hasSuffix("\nWhat is the code?"))
        #expect(count(c.prompt) <= 130)
    }
}
