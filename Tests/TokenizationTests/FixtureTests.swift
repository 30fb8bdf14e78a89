import Foundation
import TestSupport
import Testing
import Tokenization

/// Exact ids against HF tokenizers on SmolLM2's tokenizer.json.
@Suite(.enabled(if: TestData.hasSmolLM, "needs models/SmolLM2-135M-Instruct-hf (scripts/fetch-model.sh --hf)"))
struct FixtureTests {
    struct Expected {
        var text: String
        var ids: [Int32]
        var tokens: [String]?
        var decoded: String?
    }

    /// Tests/Fixtures/smollm2/tokenization.json and golden/*.json.
    static func sharedFixtures() throws -> [Expected] {
        var expected: [Expected] = []
        let root = try TestData.json(TestPaths.fixtures.appendingPathComponent("tokenization.json"))
        for item in try #require(root["strings"] as? [[String: Any]]) {
            expected.append(Expected(text: try #require(item["text"] as? String),
                                     ids: try #require(item["ids"] as? [Int]).map(Int32.init),
                                     tokens: item["tokens"] as? [String], decoded: item["decoded"] as? String))
        }
        for name in ["pub_capital", "pub_chat_capital", "pub_para300"] {
            let golden = try TestData.json(TestPaths.fixtures.appendingPathComponent("golden/\(name).json"))
            expected.append(Expected(text: try #require(golden["text"] as? String),
                                     ids: try #require(golden["ids"] as? [Int]).map(Int32.init)))
        }
        return expected
    }

    @Test func sharedFixtureIdsMatchExactly() throws {
        let fixtures = try Self.sharedFixtures()
        #expect(fixtures.count == 13)
        #expect(fixtures.last?.ids.count == 271)
        for fixture in fixtures {
            #expect(TestData.smol.encode(fixture.text) == fixture.ids, "text: \(fixture.text.debugDescription)")
        }
    }

    @Test func sharedFixtureTokensAndDecode() throws {
        for fixture in try Self.sharedFixtures() {
            if let tokens = fixture.tokens {
                // Each token's raw bytes against the HF token string read through bytes_to_unicode
                // (special tokens are plain text).
                let rawBytes = fixture.ids.map { TestData.smol.tokenBytes($0) }
                let fromSpelling = tokens.map { token in
                    TestData.smol.tokenId(forSpecial: token) != nil ? Array(token.utf8)
                        : token.map { character in UInt8(TestData.byteCharacters.firstIndex(of: character) ?? 0) }
                }
                #expect(rawBytes == fromSpelling, "text: \(fixture.text.debugDescription)")
            }
            #expect(TestData.smol.decode(fixture.ids) == (fixture.decoded ?? fixture.text))
        }
    }

    @Test func extraCasesMatchHF() {
        #expect(TestData.cases.count >= 40)
        for item in TestData.cases {
            let ids = TestData.smol.encode(item.text)
            #expect(ids == item.ids, "text: \(item.text.debugDescription)")
            #expect(TestData.smol.decode(ids) == item.decoded)
            #expect(TestData.smol.decode(ids) == item.text, "round trip")
        }
    }

    @Test func modelsMdDigitCaveat() {
        // "a  1" → [a, ĠĠ, 1] with the digit split (not [a, Ġ, Ġ1]).
        let ids = TestData.smol.encode("a  1")
        #expect(ids.map { TestData.byteLevel(String(decoding: TestData.smol.tokenBytes($0), as: UTF8.self)) }
                == ["a", "ĠĠ", "1"])
    }

    @Test func configFields() {
        let tokenizer = TestData.smol
        #expect(tokenizer.vocabularySize == 49152)
        #expect(tokenizer.bosTokenId == 1)
        #expect(tokenizer.eosTokenId == 2)
        #expect(tokenizer.addBOS == false)
        #expect(tokenizer.stopTokenIds == [2])
        #expect(tokenizer.preTokenizer == .smollm)
        #expect(ChatFormat.detect(fromTemplate: tokenizer.chatTemplate) == .chatML)
    }

    /// The GGUF-array initializer, fed arrays built from tokenizer.json as the GGUF holds them.
    @Test func ggufArraysGiveTheSameIds() throws {
        let root = try TestData.json(TestData.smolTokenizerJSON)
        let model = try #require(root["model"] as? [String: Any])
        let vocab = try #require(model["vocab"] as? [String: Int])
        let merges = try #require(model["merges"] as? [Any]).map { merge -> String in
            if let pair = merge as? [String] { return pair.joined(separator: " ") }
            return merge as? String ?? ""
        }
        let added = try #require(root["added_tokens"] as? [[String: Any]])
        var tokens = [String](repeating: "", count: vocab.count)
        for (token, id) in vocab { tokens[id] = token }
        var types = [Int32](repeating: 1, count: tokens.count)
        for token in added { types[try #require(token["id"] as? Int)] = 3 }

        let gguf = try Tokenizer(tokens: tokens, tokenTypes: types, merges: merges,
                                 preTokenizer: try PreTokenizer(ggufName: "smollm"),
                                 bosTokenId: 1, eosTokenId: 2, addBOS: false)
        #expect(gguf.vocabularySize == 49152)
        #expect(gguf.stopTokenIds == [2])
        for fixture in try Self.sharedFixtures() {
            #expect(gguf.encode(fixture.text) == fixture.ids, "text: \(fixture.text.debugDescription)")
        }
        for item in TestData.cases {
            #expect(gguf.encode(item.text) == item.ids, "text: \(item.text.debugDescription)")
            #expect(gguf.encode(item.text, allowSpecial: false) == item.idsSpecialAsText)
            #expect(gguf.decode(item.ids) == item.decoded)
        }
    }
}
