import Checkpoints
import Foundation
import Testing
import TestSupport
import Tokenization

/// The Llama-3 tokenizer (llama.cpp's `ggml-vocab-llama-bpe.gguf`, pre-tokenizer `llama-bpe`)
/// against llama.cpp's own test pairs shipped beside it (`.inp`: strings separated by
/// `\n__ggml_vocab_test__\n`; `.out`: the ids of each, one line per string, no BOS). The files
/// come from the llama-cpp-python sdist (scripts/fetch-llama3-vocab.sh); without them the test is
/// skipped, and says why.
struct LlamaBPEVocabTests {
    static var directory: URL {
        if let dir = ProcessInfo.processInfo.environment["FASTKV_VOCAB_DIR"], !dir.isEmpty {
            return URL(fileURLWithPath: dir)
        }
        return TestPaths.models.appendingPathComponent("vocab")
    }
    static var vocabFile: URL { directory.appendingPathComponent("ggml-vocab-llama-bpe.gguf") }
    static var available: Bool {
        ["", ".inp", ".out"].allSatisfy { FileManager.default.fileExists(atPath: vocabFile.path + $0) }
    }

    @Test(.enabled(if: available, "needs models/vocab/ggml-vocab-llama-bpe.gguf{,.inp,.out}: scripts/fetch-llama3-vocab.sh"))
    func encodesLikeLlamaCpp() throws {
        let vocab = try GGUFVocabulary(vocabularyFile: Self.vocabFile)
        #expect(vocab.model == "gpt2" && vocab.preTokenizer == "llama-bpe" && vocab.tokens.count == 128256)
        // The file has no tokenizer.ggml.add_bos_token: llama.cpp's default for llama-bpe is to add BOS.
        #expect(vocab.addBOS && vocab.bosTokenId == 128000)
        let tokenizer = try Tokenizer(tokens: vocab.tokens, tokenTypes: vocab.tokenTypes, merges: vocab.merges,
                                      preTokenizer: try PreTokenizer(ggufName: vocab.preTokenizer ?? "default"),
                                      bosTokenId: vocab.bosTokenId, eosTokenId: vocab.eosTokenId,
                                      eotTokenId: vocab.eotTokenId, addBOS: vocab.addBOS)
        let input = try String(contentsOf: URL(fileURLWithPath: Self.vocabFile.path + ".inp"), encoding: .utf8)
        let output = try String(contentsOf: URL(fileURLWithPath: Self.vocabFile.path + ".out"), encoding: .utf8)
        var strings = input.components(separatedBy: "\n__ggml_vocab_test__\n")
        if strings.last?.isEmpty == true { strings.removeLast() }
        var lines = output.components(separatedBy: "\n")
        if lines.last?.isEmpty == true { lines.removeLast() }
        #expect(strings.count == lines.count && strings.count >= 40, "\(strings.count) strings, \(lines.count) id lines")
        var matched = 0
        for (text, line) in zip(strings, lines) {
            let expected = line.split(separator: " ").compactMap { Int32($0) }
            let got = tokenizer.encode(text)
            #expect(got == expected, "\(text.debugDescription): ours \(got), llama.cpp \(expected)")
            if got == expected { matched += 1 }
            #expect(tokenizer.decode(got) == text, "decode(encode(\(text.debugDescription))) must give the text back")
        }
        #expect(matched == strings.count, "\(matched) of \(strings.count) strings encode as llama.cpp does")
    }
}
