import Testing
import Tokenization

struct StreamingTests {
    /// Streams `ids`; returns each chunk and the flushed tail.
    static func stream(_ tokenizer: Tokenizer, _ ids: [Int32], skipSpecial: Bool = false) -> (chunks: [String], tail: String) {
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecial: skipSpecial)
        let chunks = ids.map { detokenizer.append($0) }
        return (chunks, detokenizer.finish())
    }

    @Test(.enabled(if: TestData.hasSmolLM, "needs SmolLM2's tokenizer.json"))
    func smolLMNeverEmitsHalfACharacter() {
        let text = "café 😀 naïve"
        let ids = TestData.smol.encode(text)
        let (chunks, tail) = Self.stream(TestData.smol, ids)
        #expect(ids.count > text.count / 2)
        #expect(chunks.allSatisfy { !$0.contains("\u{FFFD}") }, "chunks: \(chunks)")
        #expect(chunks.joined() == text)
        #expect(tail.isEmpty)
        #expect(TestData.smol.decode(ids) == text)
        // SmolLM2 spells " 😀" as "ĠðŁĺ" + "Ģ": the first gives only the space, the second the emoji.
        #expect(ids == [83, 1939, 2756, 40303, 218, 15486, 46494])
        #expect(chunks == ["c", "af", "é", " ", "😀", " na", "ïve"])
        // Decoding tokens one by one without the detokenizer would break characters.
        #expect(ids.map { TestData.smol.decode([$0]) }.joined() != text)
    }

    @Test(.enabled(if: TestData.hasSmolLM, "needs SmolLM2's tokenizer.json"))
    func smolLMStreamsEveryFixture() {
        for item in TestData.cases {
            let (chunks, tail) = Self.stream(TestData.smol, item.ids)
            #expect(chunks.joined() + tail == item.decoded)
            let skipped = Self.stream(TestData.smol, item.ids, skipSpecial: true)
            #expect(skipped.chunks.joined() + skipped.tail == TestData.smol.decode(item.ids, skipSpecial: true))
        }
    }

    /// Byte tokenizer: token i is byte i, so any byte sequence can be fed.
    static let bytes = TestData.synthetic(specials: ["<|s|>"])

    @Test func invalidBytesBecomeReplacementOnlyWhenCertain() {
        // E2 82 is a proper prefix of "€" (E2 82 AC): held back, then completed.
        #expect(Self.stream(Self.bytes, [0xE2, 0x82, 0xAC]).chunks == ["", "", "€"])
        // ... or broken by "A": one U+FFFD for the maximal subpart E2 82, then "A".
        #expect(Self.stream(Self.bytes, [0xE2, 0x82, 0x41]).chunks == ["", "", "\u{FFFD}A"])
        // Never-valid bytes are replaced at once.
        #expect(Self.stream(Self.bytes, [0x80]).chunks == ["\u{FFFD}"])
        #expect(Self.stream(Self.bytes, [0xC0]).chunks == ["\u{FFFD}"])
        #expect(Self.stream(Self.bytes, [0xFF, 0x41]).chunks == ["\u{FFFD}", "A"])
        // ED A0 would be a surrogate; F4 90 would be above U+10FFFF; E0 80 overlong: each byte is invalid.
        #expect(Self.stream(Self.bytes, [0xED, 0xA0]).chunks == ["", "\u{FFFD}\u{FFFD}"])
        #expect(Self.stream(Self.bytes, [0xF4, 0x90]).chunks == ["", "\u{FFFD}\u{FFFD}"])
        #expect(Self.stream(Self.bytes, [0xE0, 0x80]).chunks == ["", "\u{FFFD}\u{FFFD}"])
        // An unfinished character at the end is flushed by finish().
        let cut = Self.stream(Self.bytes, [0x41, 0xF0, 0x9F, 0x98])
        #expect(cut.chunks == ["A", "", "", ""])
        #expect(cut.tail == "\u{FFFD}")
        #expect(Self.bytes.decode([0x41, 0xF0, 0x9F, 0x98]) == "A\u{FFFD}")
        // A special token in the middle of a character breaks it.
        #expect(Self.stream(Self.bytes, [0xC3, 256, 0xA9]).chunks == ["", "\u{FFFD}<|s|>", "\u{FFFD}"])
        #expect(Self.stream(Self.bytes, [0xC3, 256, 0xA9], skipSpecial: true).chunks == ["", "", "é"])
    }

    /// Random byte soup, cut into random tokens: the stream equals the one-shot decode, and no chunk
    /// ends in the middle of a character that a later byte completes.
    @Test func randomStreamsEqualOneShotDecode() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func random(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        let alphabet: [UInt8] = [0x41, 0x20, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xC3, 0xDF,
                                 0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF]
        for _ in 0..<3000 {
            let ids = (0..<random(12)).map { _ in Int32(alphabet[random(alphabet.count)]) }
            let (chunks, tail) = Self.stream(Self.bytes, ids)
            let expected = String(decoding: ids.map { UInt8($0) }, as: UTF8.self)
            #expect(chunks.joined() + tail == expected, "bytes: \(ids)")
            #expect(Self.bytes.decode(ids) == expected)
        }
    }
}
