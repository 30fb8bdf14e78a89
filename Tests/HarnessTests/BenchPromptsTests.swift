import Engine
import Foundation
import Harness
import Testing
import TestSupport

extension ModelTests {
    @Suite struct BenchPromptsTests {
        @Test(arguments: [100, 300, 1000])
        func passkeyPromptsComeWithinOneFillerUnitOrOnePercentAndNeverOver(n: Int) throws {
            let loaded = try ModelTests.model()
            let text = try BenchPrompts(loaded: loaded, promptFile: nil).text(tokens: n)
            let count = try loaded.encodePrompt(text, chat: false).count
            let unit = loaded.tokenizer.encode(RetrievalTask.defaultPasskeyFiller).count
            #expect(count <= n && count >= n - max(unit, n / 100), "\(count) tokens for \(n) (filler unit \(unit) tokens)")
            #expect(text.contains("The pass key is"))
        }

        @Test func promptsShorterThanThePasskeyTemplateArePlainFiller() throws {
            let loaded = try ModelTests.model()
            let text = try BenchPrompts(loaded: loaded, promptFile: nil).text(tokens: BenchPrompts.warmUpTokens)
            #expect(!text.contains("pass key") && text.hasPrefix(RetrievalTask.defaultPasskeyFiller.prefix(20)))
            #expect(try loaded.encodePrompt(text, chat: false).count <= BenchPrompts.warmUpTokens)
        }

        @Test func aPromptFileIsCutOrRepeatedToLength() throws {
            let loaded = try ModelTests.model()
            let tmp = try TemporaryDirectory("prompts-file")
            try Data("Once upon a time there was a small model.".utf8).write(to: tmp.file("p.txt"))
            let prompts = try BenchPrompts(loaded: loaded, promptFile: tmp.file("p.txt").path)
            let long = try prompts.text(tokens: 200), short = try prompts.text(tokens: 5)
            #expect(long.hasPrefix("Once upon a time there was a small model.Once upon"))
            #expect(short == "Once upon a time", "the first n − 1 = 4 tokens")
            #expect(try loaded.encodePrompt(long, chat: false).count <= 200)
        }

        @Test func anUnreadableOrEmptyPromptFileIsAnError() throws {
            let loaded = try ModelTests.model()
            let tmp = try TemporaryDirectory("prompts-empty")
            try Data().write(to: tmp.file("empty.txt"))
            for path in [tmp.file("empty.txt").path, tmp.file("missing.txt").path] {
                #expect(throws: HarnessError.unreadablePromptFile(path: path)) { _ = try BenchPrompts(loaded: loaded, promptFile: path) }
            }
        }
    }
}
