import ArgumentParser
import Engine
import FastKV
import Foundation
import RequestVocabulary

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Long-context retrieval accuracy per compression method.",
        subcommands: [PasskeyEval.self, NeedleEval.self])
}

/// Options shared by the retrieval evaluations.
struct RetrievalOptions: ParsableArguments {
    @Option(help: "Context lengths in tokens.") var lengths: String = "2000,4000,8000"
    @Option(help: "Needle depths per length, spread evenly.") var depths: Int = 8
    @Option(help: "Methods to compare.") var methods: String = "full,fastkv,snapkv,streamingllm,gemfilter"
    @Option(help: "Seed for keys.") var seed: UInt64 = 1
    @Option(help: "Write every case and the summary as JSON.") var json: String?
}

/// Runs every (method, length, depth) case and prints hits per method and length.
struct RetrievalRunner {
    struct CaseResult: Encodable {
        var method: String, length: Int, prompt_tokens: Int, depth: Double, expected: String, answer: String
        var hit: Bool, score: Double
    }

    let loaded: LoadedModel
    let maxTokens: Int

    func run(cases: [Int: [RetrievalTask.Case]], methods: [CompressionMethod],
             config: (CompressionMethod) throws -> CompressionConfig, json: String?) throws {
        var results: [CaseResult] = []
        let lengths = cases.keys.sorted()
        for method in methods {
            let compression = try config(method)
            try compression.validate(layerCount: loaded.config.layerCount)
            for length in lengths {
                for c in cases[length]! {
                    let ids = try loaded.encodePrompt(c.prompt, chat: false)
                    let r = try Generator(loaded).generate(
                        promptTokens: ids, sampling: SamplingParameters(maxTokens: maxTokens), compression: compression)
                    let hit = r.text.range(of: c.expected, options: .caseInsensitive) != nil
                    results.append(CaseResult(method: method.rawValue, length: length, prompt_tokens: ids.count,
                                              depth: c.depth, expected: c.expected, answer: r.text, hit: hit,
                                              score: Self.wordOverlap(answer: r.text, expected: c.expected)))
                    FileHandle.standardError.write(Data(String(
                        format: "%@ N=%d depth=%.2f %@ %@\n", method.rawValue, ids.count, c.depth, hit ? "hit " : "miss",
                        r.text.debugDescription).utf8))
                }
            }
        }
        print("| method | " + lengths.map { "\($0) tokens" }.joined(separator: " | ") + " |")
        print("|---|" + lengths.map { _ in "---:" }.joined(separator: "|") + "|")
        for method in methods {
            let cells = lengths.map { length -> String in
                let rs = results.filter { $0.method == method.rawValue && $0.length == length }
                return "\(rs.filter(\.hit).count)/\(rs.count)"
            }
            print("| \(method.rawValue) | " + cells.joined(separator: " | ") + " |")
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(results).write(to: URL(fileURLWithPath: json))
        }
    }

    /// Spec §4.4's plotted score: share of the expected answer's distinct lowercase words in the answer.
    static func wordOverlap(answer: String, expected: String) -> Double {
        let want = Set(expected.lowercased().split(whereSeparator: \.isWhitespace))
        let got = Set(answer.lowercased().split(whereSeparator: \.isWhitespace))
        return want.isEmpty ? 0 : Double(want.intersection(got).count) / Double(want.count)
    }
}

struct PasskeyEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passkey", abstract: "Passkey retrieval: a 5-digit key hidden in filler at several depths.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var retrieval: RetrievalOptions
    @OptionGroup var compression: CompressionOptions
    @Option(help: "Filler text file (default: the classic grass/sky/sun sentences).") var fillerFile: String?

    func run() throws {
        try runReportingErrors {
            let loaded = try modelOptions.load()
            var filler = RetrievalTask.defaultPasskeyFiller
            if let fillerFile {
                guard let text = try? String(contentsOfFile: fillerFile, encoding: .utf8), !text.isEmpty else {
                    throw EngineError.invalidRequest("cannot read filler file \(fillerFile)")
                }
                filler = text
            }
            let count = { (s: String) in loaded.tokenizer.encode(s).count }
            var cases: [Int: [RetrievalTask.Case]] = [:]
            for length in try parseList(retrieval.lengths, "--lengths") {
                cases[length] = try RetrievalTask.depths(count: retrieval.depths).enumerated().map { i, depth in
                    try RetrievalTask.passkey(tokens: length, depth: depth, seed: retrieval.seed &+ UInt64(length * 100 + i),
                                              filler: filler, countTokens: count)
                }
            }
            try RetrievalRunner(loaded: loaded, maxTokens: 8).run(
                cases: cases, methods: try CompressionMethod.list(retrieval.methods),
                config: { try compression.config(for: $0) }, json: retrieval.json)
        }
    }
}

struct NeedleEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "needle", abstract: "Needle in a haystack: your haystack file, needle, question and answer.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var retrieval: RetrievalOptions
    @OptionGroup var compression: CompressionOptions
    @Option(help: "Haystack text file.") var haystack: String
    @Option(help: "The needle sentence inserted into the haystack.") var needle: String
    @Option(help: "The question asked after the haystack.") var question: String
    @Option(help: "The expected answer (a hit is this text in the output).") var answer: String
    @Option(help: "Tokens generated per case.") var maxTokens: Int = 30

    func run() throws {
        try runReportingErrors {
            let loaded = try modelOptions.load()
            guard let text = try? String(contentsOfFile: haystack, encoding: .utf8), !text.isEmpty else {
                throw EngineError.invalidRequest("cannot read haystack file \(haystack)")
            }
            let count = { (s: String) in loaded.tokenizer.encode(s).count }
            var cases: [Int: [RetrievalTask.Case]] = [:]
            for length in try parseList(retrieval.lengths, "--lengths") {
                cases[length] = try RetrievalTask.depths(count: retrieval.depths).map { depth in
                    try RetrievalTask.needle(tokens: length, depth: depth, haystack: text, needle: needle,
                                             question: question, expected: answer, countTokens: count)
                }
            }
            try RetrievalRunner(loaded: loaded, maxTokens: maxTokens).run(
                cases: cases, methods: try CompressionMethod.list(retrieval.methods),
                config: { try compression.config(for: $0) }, json: retrieval.json)
        }
    }
}
