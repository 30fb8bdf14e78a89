import Foundation

/// Builds long-context retrieval prompts: a needle hidden at a given depth inside filler text.
///
/// Passkey (Mohtashami & Jaggi, the variant in ../shared/notes/models.md): an instruction, filler,
/// "The pass key is K. Remember it. K is the pass key.", more filler, then the question; a hit is the
/// key appearing in the greedy answer. Needle-in-a-haystack (spec §4.4): a user-supplied haystack cut
/// to length, a needle sentence inserted at a depth, and a question. Filler, needle and question are
/// inputs; only the default passkey filler is built in.
public struct RetrievalTask: Sendable {
    public static let defaultPasskeyFiller =
        "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
    public static let passkeyIntro =
        "There is an important piece of information hidden inside a lot of irrelevant text. Find it and memorize it.\n"
    public static let passkeyQuestion = "\nWhat is the pass key? The pass key is"

    /// One prompt and what counts as a correct answer.
    public struct Case: Sendable {
        public var prompt: String
        public var expected: String
        public var depth: Double
        public var targetTokens: Int
    }

    /// The seeded 5-digit key of a passkey prompt.
    public static func passkeyKey(seed: UInt64) -> String {
        var rng = Xoshiro256(seed: seed)
        return String(10000 + Int(rng.next() % 90000))
    }

    /// `depthCount` depths spread evenly through the context: (i + 0.5) / count.
    public static func depths(count: Int) -> [Double] { (0..<count).map { (Double($0) + 0.5) / Double(count) } }

    /// A passkey prompt of about `tokens` tokens with a seeded 5-digit key at `depth` (0…1).
    /// `countTokens` measures text in the model's tokens.
    public static func passkey(tokens: Int, depth: Double, seed: UInt64, filler: String = defaultPasskeyFiller,
                               countTokens: (String) -> Int) throws -> Case {
        guard !filler.isEmpty else { throw EngineError.invalidRequest("the filler text is empty") }
        let key = passkeyKey(seed: seed)
        let needle = " The pass key is \(key). Remember it. \(key) is the pass key. "
        let fixed = countTokens(passkeyIntro + needle + passkeyQuestion)
        let perUnit = max(1, countTokens(filler))
        let units = max(1, (tokens - fixed) / perUnit)
        let before = Int((Double(units) * depth).rounded())
        let prompt = passkeyIntro + String(repeating: filler, count: before) + needle
            + String(repeating: filler, count: units - before) + passkeyQuestion
        return Case(prompt: prompt, expected: key, depth: depth, targetTokens: tokens)
    }

    /// A needle-in-a-haystack prompt: the haystack (repeated if short) cut to fit `tokens`, the needle
    /// inserted at `depth` on a sentence boundary (the nearest ". " before that point), then the question.
    public static func needle(tokens: Int, depth: Double, haystack: String, needle: String, question: String,
                              expected: String, countTokens: (String) -> Int) throws -> Case {
        guard !haystack.isEmpty, !needle.isEmpty, !question.isEmpty else {
            throw EngineError.invalidRequest("haystack, needle and question must be non-empty")
        }
        let wrapperTokens = countTokens(needle + "\n" + question)
        let budget = max(16, tokens - wrapperTokens)
        // Estimate characters per token on the haystack, then trim to the budget.
        let sample = String(haystack.prefix(4000))
        let charsPerToken = max(1.0, Double(sample.count) / Double(max(1, countTokens(sample))))
        var text = haystack
        while Double(text.count) / charsPerToken < Double(budget) { text += "\n" + haystack }
        var cut = Int(Double(budget) * charsPerToken)
        text = String(text.prefix(cut))
        while countTokens(text) > budget && cut > 16 {
            cut = Int(Double(cut) * 0.97)
            text = String(text.prefix(cut))
        }
        var insertAt = text.index(text.startIndex, offsetBy: Int(Double(text.count) * depth))
        if depth < 1, let period = text[..<insertAt].range(of: ". ", options: .backwards) {
            insertAt = period.upperBound
        }
        let before = String(text[..<insertAt])
        let prompt = before + (before.hasSuffix(" ") || before.isEmpty ? "" : " ") + needle + " "
            + String(text[insertAt...]) + "\n" + question
        return Case(prompt: prompt, expected: expected, depth: depth, targetTokens: tokens)
    }
}
