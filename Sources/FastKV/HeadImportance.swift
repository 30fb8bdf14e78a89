import Foundation

/// A model's per-head importance scores, as `fastkv headscores` writes them (HeadKV's
/// retrieval-reasoning head detection, arXiv 2410.19258) and HeadKV's budget allocation reads them.
///
/// The file is JSON: the model fingerprint it was measured on, the geometry, one score per layer and
/// query head (the mean over accepted needle trials of the per-trial score), and the trial settings,
/// so a file can be checked against the model that loads it and reproduced.
public struct HeadImportance: Sendable, Equatable, Codable {
    public static let formatName = "fastkv-headscores"
    public static let formatVersion = 1

    /// What was run to produce the scores.
    public struct Trials: Sendable, Equatable, Codable {
        /// Target prompt lengths in tokens, and needle depths in [0, 1].
        public var lengths: [Int]
        public var depths: [Double]
        public var seed: UInt64
        /// Trials run, and those whose answer was right (only those count, as in the reference).
        public var attempted: Int
        public var accepted: Int
        /// The scoring rule, in words (the detection code's own summary).
        public var rule: String

        public init(lengths: [Int], depths: [Double], seed: UInt64, attempted: Int, accepted: Int, rule: String) {
            self.lengths = lengths
            self.depths = depths
            self.seed = seed
            self.attempted = attempted
            self.accepted = accepted
            self.rule = rule
        }
    }

    public var format: String
    public var version: Int
    public var fingerprint: String
    /// The checkpoint's file name (informational: the fingerprint is what must match).
    public var model: String
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    /// [layer][query head], ≥ 0.
    public var scores: [[Double]]
    public var trials: Trials

    enum CodingKeys: String, CodingKey {
        case format, version, fingerprint, model, layerCount = "layer_count", headCount = "head_count"
        case kvHeadCount = "kv_head_count", scores, trials
    }

    public init(fingerprint: String, model: String, layerCount: Int, headCount: Int, kvHeadCount: Int,
                scores: [[Double]], trials: Trials) {
        format = Self.formatName
        version = Self.formatVersion
        self.fingerprint = fingerprint
        self.model = model
        self.layerCount = layerCount
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.scores = scores
        self.trials = trials
    }

    /// Parses and checks a file's bytes; `source` names it in errors.
    public static func decode(_ data: Data, source: String) throws(HeadScoresError) -> HeadImportance {
        let h: HeadImportance
        do { h = try JSONDecoder().decode(HeadImportance.self, from: data) } catch {
            throw .malformed(source: source, reason: "not a head-scores JSON file: \(error)")
        }
        try h.checkConsistent(source: source)
        return h
    }

    /// Reads and checks a file.
    public static func load(path: String) throws(HeadScoresError) -> HeadImportance {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(path: path)
        }
        return try decode(data, source: path)
    }

    /// Pretty, key-sorted JSON: the same scores always give the same bytes.
    public func encoded() -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Every field is a plain number, string or array: encoding cannot fail.
        return try! e.encode(self) + Data("\n".utf8)
    }

    /// The rules a file must meet whatever model reads it.
    func checkConsistent(source: String) throws(HeadScoresError) {
        guard format == Self.formatName, version == Self.formatVersion else {
            throw .malformed(source: source, reason: "format \(format) v\(version); expected \(Self.formatName) v\(Self.formatVersion)")
        }
        guard layerCount >= 1, headCount >= 1, kvHeadCount >= 1, headCount % kvHeadCount == 0 else {
            throw .malformed(source: source, reason: "bad geometry \(layerCount) layers, \(headCount)/\(kvHeadCount) heads")
        }
        guard scores.count == layerCount, scores.allSatisfy({ $0.count == headCount }) else {
            throw .malformed(source: source, reason: "scores must be \(layerCount) rows of \(headCount) query heads")
        }
        guard scores.joined().allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw .malformed(source: source, reason: "scores must be finite and ≥ 0")
        }
    }

    /// Checks the file against the model that is about to use it.
    public func check(fingerprint expected: String, layerCount L: Int, headCount H: Int, kvHeadCount Hk: Int,
                      source: String) throws(HeadScoresError) {
        guard fingerprint == expected else {
            throw .wrongModel(source: source, expected: expected, found: fingerprint)
        }
        guard layerCount == L, headCount == H, kvHeadCount == Hk else {
            throw .malformed(source: source, reason: "made for \(layerCount) layers, \(headCount)/\(kvHeadCount) heads; the model has \(L), \(H)/\(Hk)")
        }
    }

    /// One score per layer and KV head: the mean of its G query heads' scores.
    ///
    /// [port] GQA: the reference runs on models whose K/V are repeated to every query head, so each
    /// query head gets its own budget. Our caches are per KV head (one K/V row serves G query heads),
    /// so the G scores of a group are folded into one by their mean: the KV head's share of the pool
    /// is the group's total evidence (mean and sum give the same shares after normalization; max
    /// would let one strong query head speak for the group).
    public var kvHeadScores: [[Double]] {
        let g = headCount / kvHeadCount
        return scores.map { row in
            (0..<kvHeadCount).map { kv in row[(kv * g)..<((kv + 1) * g)].reduce(0, +) / Double(g) }
        }
    }
}

/// Why head scores could not be used.
public enum HeadScoresError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String)
    case malformed(source: String, reason: String)
    case wrongModel(source: String, expected: String, found: String)
    /// `headkv` was asked for a model with no scores.
    case missing(fingerprint: String?)

    public var description: String {
        switch self {
        case let .unreadable(path): "cannot read head-scores file \(path)"
        case let .malformed(source, reason): "head scores \(source): \(reason)"
        case let .wrongModel(source, expected, found):
            "head scores \(source) were measured on model \(found), not this model (\(expected))"
        case let .missing(fingerprint):
            "method headkv needs head-importance scores for this model\(fingerprint.map { " (\($0))" } ?? ""), "
                + "and none ship with fastkv; make them with `fastkv headscores --model … --out FILE` and pass --head-scores FILE"
        }
    }
}
