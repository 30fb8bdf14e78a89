import Engine
import Foundation
import RequestVocabulary

/// `fastkv eval passkey` and `eval needle`: every (method, length, depth) retrieval case through
/// the `generate` path with greedy decoding, scored by whether the expected text is in the answer.
public struct RetrievalEval {
    /// One case's outcome (keys are the `--json` contract).
    public struct CaseResult: Codable, Sendable, Equatable {
        public var method: String, length: Int, prompt_tokens: Int, depth: Double, expected: String, answer: String
        /// The expected text appears in the answer, case-insensitively.
        public var hit: Bool
        /// `RetrievalEval.wordOverlap(answer:expected:)`.
        public var score: Double

        public init(method: String, length: Int, prompt_tokens: Int, depth: Double, expected: String, answer: String,
                    hit: Bool, score: Double) {
            self.method = method
            self.length = length
            self.prompt_tokens = prompt_tokens
            self.depth = depth
            self.expected = expected
            self.answer = answer
            self.hit = hit
            self.score = score
        }

        /// The progress line for logs: method, prompt tokens, depth, hit or miss, the answer.
        public var logLine: String {
            String(format: "%@ N=%d depth=%.2f %@ %@", method, prompt_tokens, depth, hit ? "hit " : "miss", answer.debugDescription)
        }
    }

    let loaded: LoadedModel
    public let maxTokens: Int

    /// - Parameter maxTokens: tokens generated per case (greedy).
    public init(model: LoadedModel, maxTokens: Int) throws(HarnessError) {
        guard maxTokens >= 1 else { throw .invalid(.maxTokens, "must be ≥ 1") }
        loaded = model
        self.maxTokens = maxTokens
    }

    /// Runs every case under every method, method-major, lengths ascending; `onCase` sees each
    /// result as it is scored.
    /// - Parameters:
    ///   - cases: per target length (`RetrievalEval.passkeyCases`, `needleCases`).
    ///   - knobs: the compression knobs every method runs with (its `method` is ignored).
    public func run(cases: [Int: [RetrievalTask.Case]], methods: [CompressionMethod], knobs: CompressionConfig,
                    onCase: (CaseResult) -> Void = { _ in }) throws -> [CaseResult] {
        let configs = try methods.map { method throws(HarnessError) in
            let config = knobs.with(method: method)
            do throws(RequestError) { try config.validate(layerCount: loaded.config.layerCount) } catch { throw .unsupportedKnobs(method, error) }
            return config
        }
        let generator = Generator(loaded)
        let sampling = try SamplingParameters(maxTokens: maxTokens)
        var results: [CaseResult] = []
        for config in configs {
            for length in cases.keys.sorted() {
                for c in cases[length]! {
                    let ids = try loaded.encodePrompt(c.prompt, chat: false)
                    let r = try generator.generate(promptTokens: ids, sampling: sampling, compression: config)
                    let result = CaseResult(method: config.method.rawValue, length: length, prompt_tokens: ids.count,
                                            depth: c.depth, expected: c.expected, answer: r.text,
                                            hit: r.text.range(of: c.expected, options: .caseInsensitive) != nil,
                                            score: Self.wordOverlap(answer: r.text, expected: c.expected))
                    onCase(result)
                    results.append(result)
                }
            }
        }
        return results
    }

    /// Hits per method (rows, in `methods` order) and length (columns, ascending) as a Markdown table.
    public static func table(_ results: [CaseResult], methods: [CompressionMethod]) -> String {
        let lengths = Set(results.map(\.length)).sorted()
        var lines = ["| method | " + lengths.map { "\($0) tokens" }.joined(separator: " | ") + " |",
                     "|---|" + lengths.map { _ in "---:" }.joined(separator: "|") + "|"]
        for method in methods {
            let cells = lengths.map { length -> String in
                let rs = results.filter { $0.method == method.rawValue && $0.length == length }
                return "\(rs.filter(\.hit).count)/\(rs.count)"
            }
            lines.append("| \(method.rawValue) | " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    /// Spec §4.4's plotted score: the share of the expected answer's distinct lowercase words that
    /// appear in the answer (0 for an empty expected answer).
    public static func wordOverlap(answer: String, expected: String) -> Double {
        let want = Set(expected.lowercased().split(whereSeparator: \.isWhitespace))
        let got = Set(answer.lowercased().split(whereSeparator: \.isWhitespace))
        return want.isEmpty ? 0 : Double(want.intersection(got).count) / Double(want.count)
    }
}
