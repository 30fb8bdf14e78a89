import Foundation
import TestSupport
import Testing
import Tokenization

/// Sanity, not a benchmark: an 8000-token prompt encodes (the time is printed, not asserted, since
/// debug builds and a shared CPU make timings meaningless as a pass criterion).
@Suite(.enabled(if: TestData.hasSmolLM, "needs SmolLM2's tokenizer.json"))
struct SpeedTests {
    @Test func eightThousandTokens() throws {
        let golden = try TestData.json(TestPaths.fixtures.appendingPathComponent("golden/pub_para300.json"))
        let paragraph = try #require(golden["text"] as? String)
        // Vary the text so the word cache does not see the same words only.
        let text = (0..<31).map { "Section \($0 * 7919): " + paragraph + " Ünïcödé 東京 😀 x\($0)\n\n" }.joined()
        let tokenizer = TestData.smol  // loaded outside the timed region
        let clock = ContinuousClock()
        var ids: [Int32] = []
        let first = clock.measure { ids = tokenizer.encode(text) }
        let again = clock.measure { ids = tokenizer.encode(text) }
        print("encode: \(ids.count) tokens from \(text.utf8.count) bytes in \(first) (first), \(again) (word cache warm)")
        #expect(ids.count >= 8000)
        #expect(TestData.smol.decode(ids) == text)
    }

    @Test func pathologicalWordsFinish() {
        // One 20,000-byte word each: a whitespace run and a letter run.
        let spaces = String(repeating: " ", count: 20_000)
        let letters = String(repeating: "ab", count: 10_000)
        let tokenizer = TestData.smol
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            #expect(tokenizer.decode(tokenizer.encode(spaces)) == spaces)
            #expect(tokenizer.decode(tokenizer.encode(letters)) == letters)
        }
        print("two 20 KB words: \(elapsed)")
    }
}
