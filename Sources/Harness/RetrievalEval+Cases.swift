import Engine

extension RetrievalEval {
    /// Passkey cases: at each length, `depthCount` depths spread evenly, each with its own key. The
    /// key of depth i at length n is seeded `seed + 100·n + i`, so a case does not change when other
    /// lengths or depths are added.
    /// - Parameter countTokens: the model's token count of a text.
    public static func passkeyCases(lengths: [Int], depthCount: Int, seed: UInt64,
                                    filler: String = RetrievalTask.defaultPasskeyFiller,
                                    countTokens: (String) -> Int) throws -> [Int: [RetrievalTask.Case]] {
        guard depthCount >= 1 else { throw HarnessError.invalid(.depths, "must be ≥ 1") }
        var cases: [Int: [RetrievalTask.Case]] = [:]
        for length in lengths {
            cases[length] = try RetrievalTask.depths(count: depthCount).enumerated().map { i, depth in
                try RetrievalTask.passkey(tokens: length, depth: depth, seed: seed &+ UInt64(length * 100 + i),
                                          filler: filler, countTokens: countTokens)
            }
        }
        return cases
    }

    /// Needle-in-a-haystack cases: at each length, `depthCount` depths spread evenly, the same needle,
    /// question and expected answer in each.
    public static func needleCases(lengths: [Int], depthCount: Int, haystack: String, needle: String, question: String,
                                   expected: String, countTokens: (String) -> Int) throws -> [Int: [RetrievalTask.Case]] {
        guard depthCount >= 1 else { throw HarnessError.invalid(.depths, "must be ≥ 1") }
        var cases: [Int: [RetrievalTask.Case]] = [:]
        for length in lengths {
            cases[length] = try RetrievalTask.depths(count: depthCount).map { depth in
                try RetrievalTask.needle(tokens: length, depth: depth, haystack: haystack, needle: needle,
                                         question: question, expected: expected, countTokens: countTokens)
            }
        }
        return cases
    }
}
