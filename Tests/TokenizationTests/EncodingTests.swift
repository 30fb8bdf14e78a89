import Testing
import Tokenization

/// Added-token matching and BPE merge order, on small synthetic vocabularies whose answers are known.
struct EncodingTests {
    /// Byte token id of an ASCII character in `TestData.synthetic` (ids 0–255 are the bytes).
    static func b(_ character: Character) -> Int32 { Int32(character.asciiValue!) }

    @Test func specialTokensMatchBeforeBPELongestFirst() {
        let tokenizer = TestData.synthetic(specials: ["<|end|>", "<|endoftext|>", "<|im_start|>"])
        let end: Int32 = 256, endOfText: Int32 = 257, imStart: Int32 = 258
        #expect(tokenizer.encode("a<|endoftext|>b<|end|>c") == [Self.b("a"), endOfText, Self.b("b"), end, Self.b("c")])
        // An unfinished special is text.
        #expect(tokenizer.encode("<|en") == "<|en".map(Self.b))
        #expect(tokenizer.encode("<|im_start|><|im_start|>") == [imStart, imStart])
        // allowSpecial: false spells them out.
        #expect(tokenizer.encode("<|end|>", allowSpecial: false) == "<|end|>".map(Self.b))
        #expect(tokenizer.isSpecial(end) && !tokenizer.isSpecial(Self.b("a")))
        #expect(tokenizer.tokenId(forSpecial: "<|endoftext|>") == endOfText)
        #expect(tokenizer.tokenId(forSpecial: "<|nope|>") == nil)
        #expect(tokenizer.tokenBytes(end) == Array("<|end|>".utf8))
        #expect(tokenizer.decode([Self.b("a"), end, Self.b("b")]) == "a<|end|>b")
        #expect(tokenizer.decode([Self.b("a"), end, Self.b("b")], skipSpecial: true) == "ab")
        #expect(tokenizer.decode([-1, 9999, Self.b("a")]) == "a")  // unknown ids are skipped
    }

    @Test func pretokenizationRestartsAfterASpecialToken() {
        // "  <|end|>" — the two spaces end their stretch, so `\s+(?!\S)` takes both.
        let tokenizer = TestData.synthetic(extra: ["ĠĠ"], merges: ["Ġ Ġ"], specials: ["<|end|>"])
        #expect(tokenizer.encode("x  <|end|>") == [Self.b("x"), 256, 257])
        #expect(tokenizer.encode("x  y") == [Self.b("x"), Self.b(" "), Self.b(" "), Self.b("y")])
    }

    @Test(.enabled(if: TestData.hasSmolLM, "needs SmolLM2's tokenizer.json"))
    func smolLMSpecialTokens() throws {
        let tokenizer = TestData.smol
        #expect(tokenizer.encode("<|im_start|>user\nHi<|im_end|>") == [1, 4093, 198, 26843, 2])
        let asText = tokenizer.encode("<|im_start|>user\nHi<|im_end|>", allowSpecial: false)
        #expect(!asText.contains { tokenizer.isSpecial($0) })
        #expect(tokenizer.decode(asText) == "<|im_start|>user\nHi<|im_end|>")
        for item in TestData.cases where item.text.contains("<|") {
            #expect(tokenizer.encode(item.text, allowSpecial: false) == item.idsSpecialAsText)
        }
        #expect(tokenizer.tokenId(forSpecial: "<|im_end|>") == 2)
        #expect(tokenizer.decode([1, 4093, 198, 26843, 2], skipSpecial: true) == "user\nHi")
        #expect((0..<17).allSatisfy { tokenizer.isSpecial(Int32($0)) } && !tokenizer.isSpecial(17))
    }

    @Test func mergesApplyByRankThenLeftmost() {
        // ids: 256 "bc", 257 "abc", 258 "ab", 259 "aa"
        let tokenizer = TestData.synthetic(extra: ["bc", "abc", "ab", "aa"], merges: ["b c", "a bc", "a b", "a a"])
        // "b c" outranks "a b", so "abc" goes a+bc → abc, never ab+c.
        #expect(tokenizer.encode("abc") == [257])
        #expect(tokenizer.encode("ab") == [258])
        // Equal ranks: the leftmost pair first, so "aaa" is aa + a.
        #expect(tokenizer.encode("aaa") == [259, Self.b("a")])
        #expect(tokenizer.encode("aaaa") == [259, 259])
        // Merges never cross words.
        #expect(tokenizer.encode("a bc") == [Self.b("a"), Self.b(" "), 256])
    }

    @Test func llama3LooksUpWholeWordsFirst() throws {
        // "abc" is in the vocabulary but no merge path reaches it (ignore_merges in HF/llama.cpp).
        let extra = ["ab", "abc"], merges = ["a b"]
        let gpt2 = TestData.synthetic(extra: extra, merges: merges, preTokenizer: .gpt2)
        let llama3 = TestData.synthetic(extra: extra, merges: merges, preTokenizer: .llama3)
        #expect(gpt2.encode("abc") == [256, Self.b("c")])
        #expect(llama3.encode("abc") == [257])
    }

    @Test func userDefinedGGUFTokensAreSpecial() throws {
        let tokens = TestData.byteCharacters.map(String.init) + ["<tool>", "<|eot_id|>", "<|im_end|>"]
        let types = [Int32](repeating: 1, count: 256) + [4, 3, 1]
        let tokenizer = try Tokenizer(tokens: tokens, tokenTypes: types, merges: [], preTokenizer: .gpt2,
                                      bosTokenId: nil, eosTokenId: 5, eotTokenId: 6)
        #expect(tokenizer.encode("<tool>") == [256])
        #expect(tokenizer.isSpecial(256) && tokenizer.isSpecial(257) && !tokenizer.isSpecial(258))
        // eos, eot and the special <|eot_id|>; not <|im_end|>, which is a normal token here.
        #expect(tokenizer.stopTokenIds == [5, 6, 257])
    }

    @Test func everyStringSurvivesARoundTrip() {
        let tokenizer = TestData.synthetic(extra: ["Ġt", "he"], merges: ["Ġ t", "h e"], specials: ["<|x|>"])
        let texts = ["", " ", "the tea", "\u{0}\u{1F}\u{7F}", "e\u{301}", "👨‍👩‍👧", "\r\n", "<|x|><|x", "\u{FFFD}"]
        for text in texts {
            #expect(tokenizer.decode(tokenizer.encode(text)) == text)
            #expect(tokenizer.decode(tokenizer.encode(text, allowSpecial: false)) == text)
        }
    }
}
