import Foundation
import Testing
import Tokenization

/// Every refusal is a typed error whose message names the file and the problem.
struct ErrorTests {
    /// Writes `json` to a fresh tokenizer.json and loads it; returns the file path and the result.
    static func load(_ json: String, config: String? = nil) throws -> (path: String, result: Result<Tokenizer, Error>) {
        let directory = try TestData.temporaryDirectory()
        let url = directory.appendingPathComponent("tokenizer.json")
        try Data(json.utf8).write(to: url)
        var configURL: URL?
        if let config {
            configURL = directory.appendingPathComponent("tokenizer_config.json")
            try Data(config.utf8).write(to: configURL!)
        }
        return (url.path, Result { try Tokenizer(tokenizerJSON: url, tokenizerConfig: configURL) })
    }

    static func error(_ result: Result<Tokenizer, Error>) -> TokenizationError? {
        if case .failure(let error) = result { return error as? TokenizationError }
        return nil
    }

    @Test func unsupportedModelTypes() throws {
        let wordPiece = try Self.load(#"{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"}}"#)
        #expect(Self.error(wordPiece.result) == .unsupportedModelType(path: wordPiece.path, type: "WordPiece"))
        #expect(Self.error(wordPiece.result)?.description.contains(wordPiece.path) == true)
        #expect(Self.error(wordPiece.result)?.description.contains("WordPiece") == true)

        let unigram = try Self.load(#"{"model": {"type": "Unigram", "vocab": [["<unk>", 0.0]], "unk_id": 0}}"#)
        #expect(Self.error(unigram.result) == .unsupportedModelType(path: unigram.path, type: "Unigram"))

        // Llama 2 / Mistral: SentencePiece-style BPE with byte fallback.
        let sentencePiece = try Self.load(TestData.tokenizerJSON(modelExtra: #""byte_fallback": true,"#))
        guard case .unsupportedModelOption(let path, let option)? = Self.error(sentencePiece.result) else {
            Issue.record("expected unsupportedModelOption, got \(sentencePiece.result)")
            return
        }
        #expect(path == sentencePiece.path && option.contains("byte_fallback"))
    }

    @Test func unsupportedPipelineStages() throws {
        let metaspace = try Self.load(TestData.tokenizerJSON(preTokenizer: #"{"type": "Metaspace", "replacement": "▁"}"#))
        #expect(Self.error(metaspace.result)
                == .unsupportedPipelineStage(path: metaspace.path, stage: "pre_tokenizer", found: "Metaspace"))

        let pattern = #"(?i:'s|'t)|\p{L}+"#
        let split = try Self.load(TestData.tokenizerJSON(
            preTokenizer: #"{"type": "Split", "pattern": {"Regex": "(?i:'s|'t)|\\p{L}+"}, "behavior": "Isolated", "invert": false}"#))
        #expect(Self.error(split.result) == .unsupportedSplitPattern(path: split.path, pattern: pattern))

        let digits = try Self.load(TestData.tokenizerJSON(preTokenizer: """
            {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": false}, {"type": "ByteLevel"}]}
            """))
        #expect(Self.error(digits.result)?.description.contains("Digits(individual_digits: false)") == true)

        let normalizer = try Self.load(TestData.tokenizerJSON(normalizer: #"{"type": "NFKC"}"#))
        #expect(Self.error(normalizer.result)
                == .unsupportedPipelineStage(path: normalizer.path, stage: "normalizer", found: "NFKC"))

        let decoder = try Self.load(TestData.tokenizerJSON(decoder: #"{"type": "Metaspace"}"#))
        #expect(Self.error(decoder.result)
                == .unsupportedPipelineStage(path: decoder.path, stage: "decoder", found: "Metaspace"))
    }

    @Test func malformedFiles() throws {
        let truncated = try Self.load(#"{"model": {"type": "BPE", "vocab": {"a": 0"#)
        guard case .malformedJSON(let path, _)? = Self.error(truncated.result) else {
            Issue.record("expected malformedJSON, got \(truncated.result)")
            return
        }
        #expect(path == truncated.path)

        // Found by FuzzTokenizerJSON: an empty file (Foundation also leaked its read buffer on it).
        let empty = try Self.load("")
        #expect(Self.error(empty.result) == .malformedJSON(path: empty.path, detail: "the file is empty"))

        let badVocab = try Self.load(#"{"model": {"type": "BPE", "vocab": {"a": "zero"}, "merges": []}}"#)
        let message = Self.error(badVocab.result)?.description ?? ""
        #expect(message.contains(badVocab.path) && message.contains("model.vocab"), "\(message)")

        let hugeId = try Self.load(TestData.tokenizerJSON(addedTokens: [("<huge>", 2_000_000_000, true)]))
        #expect(Self.error(hugeId.result)?.description.contains("largest token id 2000000000") == true)

        let badMerge = try Self.load(TestData.tokenizerJSON(merges: ["x q"]).replacingOccurrences(of: #""x q""#, with: #""xq""#))
        #expect(Self.error(badMerge.result)?.description.contains("'xq' is not 'a b'") == true)

        let unknownMerge = try Self.load(TestData.tokenizerJSON(merges: ["a b"]))
        guard case .invalidMerge(let source, 0, "a b", let reason)? = Self.error(unknownMerge.result) else {
            Issue.record("expected invalidMerge, got \(unknownMerge.result)")
            return
        }
        #expect(source == unknownMerge.path && reason.contains("'ab'"))

        let badConfig = try Self.load(TestData.tokenizerJSON(), config: #"{"eos_token": "<|nope|>"}"#)
        guard case .unknownSpecialToken(let configPath, "eos_token", "<|nope|>")? = Self.error(badConfig.result) else {
            Issue.record("expected unknownSpecialToken, got \(badConfig.result)")
            return
        }
        #expect(configPath.hasSuffix("tokenizer_config.json"))
    }

    @Test func missingFiles() throws {
        let url = URL(fileURLWithPath: "/nonexistent/fastkv/tokenizer.json")
        #expect(throws: TokenizationError.fileNotFound(path: url.path)) {
            try Tokenizer(tokenizerJSON: url)
        }
        let good = try TestData.temporaryDirectory().appendingPathComponent("tokenizer.json")
        try Data(TestData.tokenizerJSON().utf8).write(to: good)
        let missingConfig = good.deletingLastPathComponent().appendingPathComponent("tokenizer_config.json")
        #expect(throws: TokenizationError.fileNotFound(path: missingConfig.path)) {
            try Tokenizer(tokenizerJSON: good, tokenizerConfig: missingConfig)
        }
        #expect(TokenizationError.fileNotFound(path: url.path).description.contains(url.path))
    }

    @Test func ggufErrors() throws {
        #expect(throws: TokenizationError.unsupportedGGUFTokenizerModel(name: "llama")) {
            try Tokenizer.validateGGUFModel("llama")
        }
        #expect(TokenizationError.unsupportedGGUFTokenizerModel(name: "llama").description.contains("SentencePiece"))
        try Tokenizer.validateGGUFModel("gpt2")

        do {
            _ = try PreTokenizer(ggufName: "qwen2-custom")
            Issue.record("expected an error")
        } catch let error as TokenizationError {
            guard case .unknownPreTokenizer(let name, let supported) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(name == "qwen2-custom")
            #expect(supported.contains("smollm") && supported.contains("llama-bpe") && supported.contains("gpt2"))
            #expect(error.description.contains("qwen2-custom") && error.description.contains("smollm"))
        }

        let tokens = TestData.byteCharacters.map(String.init)
        #expect(throws: TokenizationError.tokenTypeCountMismatch(tokens: 256, tokenTypes: 2)) {
            try Tokenizer(tokens: tokens, tokenTypes: [1, 1], merges: [], preTokenizer: .gpt2, bosTokenId: nil, eosTokenId: nil)
        }
        #expect(throws: TokenizationError.invalidMerge(source: "GGUF tokenizer metadata", index: 1, merge: "ab",
                                                       reason: "expected two tokens separated by a space")) {
            try Tokenizer(tokens: tokens + ["ab"], tokenTypes: [], merges: ["a b", "ab"], preTokenizer: .gpt2,
                          bosTokenId: nil, eosTokenId: nil)
        }
        #expect(throws: TokenizationError.tokenIdOutOfRange(source: "GGUF tokenizer metadata", name: "eos token",
                                                            id: 300, vocabularySize: 256)) {
            try Tokenizer(tokens: tokens, tokenTypes: [], merges: [], preTokenizer: .gpt2, bosTokenId: nil, eosTokenId: 300)
        }
        #expect(throws: TokenizationError.emptyVocabulary(source: "GGUF tokenizer metadata")) {
            try Tokenizer(tokens: [], tokenTypes: [], merges: [], preTokenizer: .gpt2, bosTokenId: nil, eosTokenId: nil)
        }
    }

    /// The accepted shapes: Llama 3's Split + ByteLevel with a BOS-adding post-processor, and merges as arrays.
    @Test func acceptedHFVariants() throws {
        let llama3Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"#
        let json = TestData.tokenizerJSON(
            extra: ["ab", "abc"], merges: ["a b"],
            preTokenizer: """
            {"type": "Sequence", "pretokenizers": [
              {"type": "Split", "pattern": {"Regex": "\(llama3Pattern)"}, "behavior": "Isolated", "invert": false},
              {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}
            """,
            modelExtra: #""ignore_merges": true,"#,
            addedTokens: [("<|begin_of_text|>", 258, true), ("<|eot_id|>", 259, true), ("<tool>", 260, false)],
            postProcessor: """
            {"type": "Sequence", "processors": [{"type": "ByteLevel"}, {"type": "TemplateProcessing",
              "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
              "pair": [], "special_tokens": {}}]}
            """
        ).replacingOccurrences(of: #"["a b"]"#, with: #"[["a", "b"]]"#)
        let (_, result) = try Self.load(json, config: #"{"eos_token": {"content": "<|eot_id|>"}, "chat_template": "<|start_header_id|>"}"#)
        let tokenizer = try result.get()
        #expect(tokenizer.preTokenizer == .llama3)
        #expect(tokenizer.vocabularySize == 261)
        #expect(tokenizer.addBOS && tokenizer.bosTokenId == 258)
        #expect(tokenizer.eosTokenId == 259 && tokenizer.stopTokenIds == [259])
        #expect(tokenizer.encode("abc") == [257])  // ignore_merges
        #expect(tokenizer.encode("ab 123") == [256, 32, 49, 50, 51])
        // Non-special added tokens are matched even with allowSpecial: false, as in HF.
        #expect(tokenizer.encode("<tool><|eot_id|>", allowSpecial: false).prefix(1) == [260])
        #expect(!tokenizer.isSpecial(260) && tokenizer.isSpecial(259))
        #expect(ChatFormat.detect(fromTemplate: tokenizer.chatTemplate) == .llama3)
    }
}
