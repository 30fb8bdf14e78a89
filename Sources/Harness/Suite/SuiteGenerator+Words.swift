import Tensors

extension SuiteGenerator {
    /// Common-word extraction: a numbered list of E words in which 10 words appear f_c = max(3, E/40)
    /// times each (a quarter of the list) and every other word once, so the distinct words (the
    /// chance level's denominator) grow with the length. E is fitted to the length.
    func commonWords(tokens: Int, rng: inout SplitMix64) throws(HarnessError) -> SuiteSample {
        let intro = "Below is a numbered list of words. Memorize the ones that appear most often.\n"
        let question = "Question: What are the 10 most common words in the list above?"
        let prefix = "Answer: The 10 words that appear most often in the list are:"
        let common = PseudoWords.distinct(10, &rng)
        let listRNG = rng
        func list(_ entries: Int) -> (text: String, distinct: Int) {
            var r = listRNG
            let perCommon = max(3, entries / 40)
            let rareCount = max(0, entries - 10 * perCommon)
            let rare = PseudoWords.distinct(rareCount + 10, &r).filter { !common.contains($0) }.prefix(rareCount)
            var words = common.flatMap { Array(repeating: $0, count: perCommon) } + rare
            r.shuffle(&words)
            return (words.enumerated().map { "\($0 + 1). \($1)" }.joined(separator: " "), 10 + rare.count)
        }
        let (text, entries) = try fit(tokens: tokens, build: { list($0).text },
                                       compose: { Self.plainText(body: intro + $0 + "\n" + question, answerPrefix: prefix) })
        return SuiteSample(task: .commonWords, body: intro + text + "\n" + question, answerPrefix: prefix, expected: common,
                           depths: [], filler: nil, chance: 10 / Double(list(entries).distinct), targetTokens: tokens, seed: 0)
    }

    /// Frequent-word extraction: N coded words over a vocabulary of 30, word k appearing ⌊N·p_k⌋
    /// times with p_k ∝ k^−2 (Zipf, α = 2), shuffled; the three most frequent are asked for.
    func frequentWords(tokens: Int, rng: inout SplitMix64) throws(HarnessError) -> SuiteSample {
        let intro = "Read the following coded text and keep count of how often each coded word appears.\n"
        let question = "Question: What are the three most frequently appearing coded words in the text above?"
        let prefix = "Answer: The three most frequently appearing coded words are:"
        let vocabulary = PseudoWords.distinct(30, &rng, syllables: 2)
        let weights = vocabulary.indices.map { 1 / Double(($0 + 1) * ($0 + 1)) }
        let total = weights.reduce(0, +)
        let textRNG = rng
        func text(_ n: Int) -> String {
            var r = textRNG
            var words = vocabulary.indices.flatMap { k in
                Array(repeating: vocabulary[k], count: max(1, Int(Double(n) * weights[k] / total)))
            }
            r.shuffle(&words)
            return words.joined(separator: " ")
        }
        let (body, _) = try fit(tokens: tokens, build: text,
                                compose: { Self.plainText(body: intro + $0 + "\n" + question, answerPrefix: prefix) })
        return SuiteSample(task: .frequentWords, body: intro + body + "\n" + question, answerPrefix: prefix,
                           expected: Array(vocabulary.prefix(3)), depths: [], filler: nil,
                           chance: 3 / Double(vocabulary.count), targetTokens: tokens, seed: 0)
    }

    /// The largest size (in `build`'s unit) whose composed prompt fits `tokens`: estimated from a
    /// small build, then shrunk by 3 % steps.
    private func fit(tokens: Int, build: (Int) -> String, compose: (String) -> String) throws(HarnessError) -> (String, Int) {
        let probe = 64
        let fixed = countTokens(compose(""))
        let perUnit = max(0.5, Double(countTokens(build(probe))) / Double(probe))
        var n = Int(Double(tokens - fixed) / perUnit)
        guard n >= 20 else { throw .invalid(.lengths, "\(tokens) tokens are too few for this task") }
        while n >= 20 {
            let text = build(n)
            if countTokens(compose(text)) <= tokens { return (text, n) }
            n = Int(Double(n) * 0.97)
        }
        throw .invalid(.lengths, "\(tokens) tokens are too few for this task")
    }
}
