import Engine
import FastKV
import Foundation
import RequestVocabulary

/// `fastkv headscores`: HeadKV's retrieval-reasoning head detection (arXiv 2410.19258,
/// `retrieval_head_detection_r2.py` in FYYFU/HeadKV) on our engine.
///
/// Trials: every (length, depth) pair gets a passkey prompt — filler, a needle sentence holding a
/// seeded 5-digit key at that depth, the question. The model answers greedily with full KV; a trial
/// counts only if the key is in the answer (the reference: F1 > 50 against the answer). For a
/// counted trial, `AnswerAttentionScorer` replays the prompt plus the answer and scores every query
/// head on where its most-attended positions fall (the needle's span); a head's score is the mean of
/// its per-trial scores over the counted trials.
///
/// [port] Needles: the reference's retrieval-reasoning needles are multi-hop QA facts a 7B model can
/// reason over; a 135M model answers none of them, so the needles here are passkey sentences (the
/// scoring rule — attention-weighted top-k hits inside the needle span — is the r2 rule unchanged).
/// [port] The needle's span is known exactly because the prompt is assembled from separately
/// encoded pieces (prefix, needle, rest); the reference encodes the whole text and searches for
/// the span by token overlap. The answer may be one token longer than the key (a leading space).
public struct HeadScoreDetection {
    public static let defaultLengths = [256, 512, 1024, 2048]
    public static let defaultDepthCount = 4
    public static let rule = "per answer token, layer and query head: the top-|span| positions of the step's "
        + "attention; each inside the needle span adds 10·a/(|span|·answer tokens); mean over trials answered right (HeadKV r2)"

    /// One trial's outcome, for progress lines.
    public struct Trial: Sendable {
        public var length: Int, promptTokens: Int, depth: Double, key: String, answer: String, counted: Bool
    }

    let loaded: LoadedModel
    public let lengths: [Int]
    public let depths: [Double]
    public let seed: UInt64
    /// Score every trial, answered right or not (for models that cannot retrieve, e.g. test models).
    public let scoreAllTrials: Bool

    public init(model: LoadedModel, lengths: [Int] = defaultLengths, depthCount: Int = defaultDepthCount,
                seed: UInt64 = 1, scoreAllTrials: Bool = false) throws(HarnessError) {
        guard !lengths.isEmpty else { throw .invalid(.lengths, "must name at least one length") }
        guard lengths.allSatisfy({ $0 >= 32 }) else { throw .invalid(.lengths, "must all be ≥ 32 tokens") }
        guard Set(lengths).count == lengths.count else { throw .invalid(.lengths, "must not repeat a length") }
        guard (1...64).contains(depthCount) else { throw .invalid(.depths, "must be in 1...64") }
        let limit = model.config.contextLength
        if let longest = lengths.max(), longest + 16 > limit {
            throw .exceedsContext(length: longest, extra: 16, extraSetting: nil, contextLength: limit)
        }
        loaded = model
        self.lengths = lengths.sorted()
        depths = RetrievalTask.depths(count: depthCount)
        self.seed = seed
        self.scoreAllTrials = scoreAllTrials
    }

    /// Runs every trial (lengths ascending, then depths) and returns the scores file.
    public func run(onTrial: (Trial) -> Void = { _ in }) throws -> HeadImportance {
        let c = loaded.config
        var sum = Array(repeating: Array(repeating: 0.0, count: c.headCount), count: c.layerCount)
        var attempted = 0, counted = 0
        for length in lengths {
            for (i, depth) in depths.enumerated() {
                let trialSeed = seed &+ UInt64(length * 100 + i)
                let (trial, scores) = try runTrial(length: length, depth: depth, seed: trialSeed)
                attempted += 1
                onTrial(trial)
                guard let scores else { continue }
                counted += 1
                for l in 0..<c.layerCount { for h in 0..<c.headCount { sum[l][h] += scores[l][h] } }
            }
        }
        guard counted > 0 else { throw HarnessError.noTrialAnswered(attempted: attempted) }
        let mean = sum.map { $0.map { $0 / Double(counted) } }
        return HeadImportance(
            fingerprint: loaded.fingerprint, model: loaded.path.lastPathComponent, layerCount: c.layerCount,
            headCount: c.headCount, kvHeadCount: c.kvHeadCount, scores: mean,
            trials: .init(lengths: lengths, depths: depths, seed: seed, attempted: attempted, accepted: counted,
                          rule: Self.rule + (scoreAllTrials ? " (every trial scored: --score-all-trials)" : "")))
    }

    /// One needle trial: the prompt, the greedy answer, and the heads' scores if it counts.
    func runTrial(length: Int, depth: Double, seed: UInt64) throws -> (Trial, [[Double]]?) {
        let tok = loaded.tokenizer
        let key = RetrievalTask.passkeyKey(seed: seed)
        let intro = RetrievalTask.passkeyIntro
        let needle = " The pass key is \(key). Remember it. \(key) is the pass key."
        let question = RetrievalTask.passkeyQuestion
        let filler = RetrievalTask.defaultPasskeyFiller
        let fixed = tok.encode(intro + needle + " " + question).count
        let units = max(1, (length - fixed) / max(1, tok.encode(filler).count))
        let before = Int((Double(units) * depth).rounded())
        let head = try loaded.encodePrompt(intro + String(repeating: filler, count: before), chat: false)
        let needleIDs = tok.encode(needle)
        let tail = tok.encode(" " + String(repeating: filler, count: units - before) + question)
        let prompt = head + needleIDs + tail
        let span = head.count..<(head.count + needleIDs.count)
        let answerTokens = tok.encode(key).count
        let sampling = try SamplingParameters(maxTokens: answerTokens + 1)
        let answer = try Generator(loaded).generate(promptTokens: prompt, sampling: sampling)
        let hit = answer.text.contains(key)
        let trial = Trial(length: length, promptTokens: prompt.count, depth: depth, key: key, answer: answer.text,
                          counted: hit || scoreAllTrials)
        guard trial.counted, !answer.tokens.isEmpty else { return (trial, nil) }
        // Replay: prompt + answer minus its last token; rows N−1 … N−1+T−1 are the T decode steps.
        let replay = prompt + answer.tokens.dropLast()
        var scorer = AnswerAttentionScorer(span: span, firstStepRow: prompt.count - 1, steps: answer.tokens.count,
                                           answerTokens: answerTokens, layerCount: loaded.config.layerCount,
                                           headCount: loaded.config.headCount)
        let cache = loaded.model.makeCache(capacity: replay.count)
        _ = try loaded.model.prefill(tokens: replay, cache: cache, policy: &scorer)
        return (trial, scorer.scores)
    }
}
