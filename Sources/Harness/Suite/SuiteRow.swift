/// One (task, length, template, method-and-budget) cell of `eval suite`: the keys are the
/// results.json / results.csv contract.
public struct SuiteRow: Codable, Sendable, Equatable {
    public var task: SuiteTask
    public var length: Int
    public var template: SuiteTemplate
    /// The method and its budget, e.g. `snapkv r=0.1` or `h2o C=512` (`full` has none).
    public var label: String
    public var method: String
    public var kv_rate: Double?
    public var kv_budget: Int?
    public var samples: Int
    /// Mean score in 0…1 (the task's RULER metric).
    public var score: Double
    /// Wilson 95 % interval of `score` over `samples` (`Wilson.interval`).
    public var ci_low: Double
    public var ci_high: Double
    /// The task's chance level (mean over the samples) and the cell's full-KV score (the ceiling).
    public var chance: Double
    public var full_score: Double?
    /// Full KV is near chance in this cell, so the cell is left out of every average.
    public var near_chance: Bool
    public var prompt_tokens: Double
    /// Mean TTFT; for methods that shared a full prefill, the shared forward's time less the other
    /// policies' selection time (`Generator.prefillShared`).
    public var ttft_ms: Double
    /// Kept KV entries over full KV's, mean over the samples.
    public var kv_kept_share: Double
    /// Mean score per filler (the samples rotate through the fillers).
    public var score_by_filler: [String: Double]
    /// The greedy answers, in sample order.
    public var answers: [String]
    /// Each sample's score, in sample order (what `SuiteReport.pairedDifference` compares); nil in
    /// folders written before the runner kept them.
    public var sample_scores: [Double]?

    public init(task: SuiteTask, length: Int, template: SuiteTemplate, label: String, method: String, kv_rate: Double?,
                kv_budget: Int?, samples: Int, score: Double, ci_low: Double, ci_high: Double, chance: Double,
                full_score: Double?, near_chance: Bool, prompt_tokens: Double, ttft_ms: Double, kv_kept_share: Double,
                score_by_filler: [String: Double], answers: [String], sample_scores: [Double]? = nil) {
        (self.task, self.length, self.template, self.label, self.method) = (task, length, template, label, method)
        (self.kv_rate, self.kv_budget, self.samples, self.score) = (kv_rate, kv_budget, samples, score)
        (self.ci_low, self.ci_high, self.chance, self.full_score, self.near_chance) = (ci_low, ci_high, chance, full_score, near_chance)
        (self.prompt_tokens, self.ttft_ms, self.kv_kept_share) = (prompt_tokens, ttft_ms, kv_kept_share)
        (self.score_by_filler, self.answers, self.sample_scores) = (score_by_filler, answers, sample_scores)
    }

    /// The cell this row belongs to (a row per label in each).
    public var cellKey: String { "\(task.rawValue)/\(length)/\(template.rawValue)" }
    public var key: String { cellKey + "/" + label }
}

/// Wilson score interval for a share (Wilson 1927). Scores of the `all` metric are fractions, so
/// the interval treats the mean score as a share of n trials: an approximation that is exact for
/// 0/1 scores and conservative for fractional ones.
public enum Wilson {
    public static let z95 = 1.959964

    public static func interval(mean p: Double, count n: Int, z: Double = z95) -> (low: Double, high: Double) {
        guard n > 0 else { return (0, 1) }
        let nn = Double(n), z2 = z * z
        let center = (p + z2 / (2 * nn)) / (1 + z2 / nn)
        let half = z * ((p * (1 - p) / nn + z2 / (4 * nn * nn)).squareRoot()) / (1 + z2 / nn)
        return (max(0, center - half), min(1, center + half))
    }

    /// Samples needed for a 95 % interval of at most ±`halfWidth` at share p (normal
    /// approximation, which Wilson's half-width does not exceed for n this large): 196 at p = 0.5
    /// and ±0.07.
    public static func samplesNeeded(share p: Double, halfWidth: Double, z: Double = z95) -> Int {
        let q = min(1, max(0, p))
        return Int((z * z * max(q * (1 - q), 0.0025) / (halfWidth * halfWidth)).rounded(.up))
    }
}
