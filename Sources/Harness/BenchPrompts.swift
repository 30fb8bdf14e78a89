import Engine
import Foundation

/// Prompts of a given token length for the bench: seeded passkey filler (the needle at depth 0.5),
/// or a user's text cut or repeated to length. Lengths count the BOS the coordinator may add, so a
/// prompt never exceeds its target.
public struct BenchPrompts {
    /// The length of the warm-up prompt each config runs once before it is measured.
    public static let warmUpTokens = 64

    let loaded: LoadedModel
    /// The user's text in tokens; nil for passkey filler.
    let fileTokens: [Int32]?

    public init(loaded: LoadedModel, promptFile: String?) throws(HarnessError) {
        self.loaded = loaded
        if let promptFile {
            guard let data = FileManager.default.contents(atPath: promptFile),
                  let text = String(data: data, encoding: .utf8), !text.isEmpty
            else { throw .unreadablePromptFile(path: promptFile) }
            fileTokens = loaded.tokenizer.encode(text)
        } else {
            fileTokens = nil
        }
    }

    /// A prompt of at most `n` tokens (with BOS): n − 1 text tokens from a prompt file, or a passkey
    /// prompt within 1% of n where the filler's granularity allows (it grows a whole filler unit,
    /// about 20 tokens, at a time; short prompts end up to one unit short).
    public func text(tokens n: Int) throws -> String {
        if let fileTokens, !fileTokens.isEmpty {
            let ids = (0..<max(1, n - 1)).map { fileTokens[$0 % fileTokens.count] }
            return loaded.tokenizer.decode(ids)
        }
        // The passkey builder counts filler units, which undershoots by the template's tokens: ask
        // for more until the prompt (with BOS) is within 1% of n, never over it (6 tries at most).
        let tokenizer = loaded.tokenizer
        var ask = n - 1, best = ""
        for _ in 0..<6 {
            let prompt = try RetrievalTask.passkey(tokens: ask, depth: 0.5, seed: UInt64(n)) { tokenizer.encode($0).count }.prompt
            let count = try loaded.encodePrompt(prompt, chat: false).count
            if count <= n { best = prompt } else { break }
            if n - count <= max(2, n / 100) { break }
            ask += n - count
        }
        if best.isEmpty {
            // Shorter than the passkey template itself (the warm-up prompt): plain filler.
            let unit = tokenizer.encode(RetrievalTask.defaultPasskeyFiller)
            return tokenizer.decode((0..<max(1, n - 1)).map { unit[$0 % unit.count] })
        }
        return best
    }
}
