import ArgumentParser
import Engine
import Foundation
import Harness
import RequestVocabulary

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Long-context retrieval accuracy per compression method.",
        subcommands: [PasskeyEval.self, NeedleEval.self, SuiteEval.self, SuiteTableEval.self])
}

/// Options shared by the retrieval evaluations, and their output: a log line per case on stderr,
/// hits per method and length on stdout, every case as JSON on request.
struct RetrievalOptions: ParsableArguments {
    @Option(help: "Context lengths in tokens.") var lengths: String = "2000,4000,8000"
    @Option(help: "Needle depths per length, spread evenly.") var depths: Int = 8
    @Option(help: "Methods to compare.") var methods: String = "full,fastkv,snapkv,streamingllm,gemfilter,adakv,headkv,h2o,pyramidinfer"
    @Option(help: "Seed for keys.") var seed: UInt64 = 1
    @Option(help: "Write every case and the summary as JSON.") var json: String?

    func lengthList() throws(HarnessError) -> [Int] { try ListArgument.positiveIntegers(lengths, for: .lengths) }

    func run(_ eval: RetrievalEval, cases: [Int: [RetrievalTask.Case]], knobs: CompressionConfig) throws {
        let methodList = try ListArgument.methods(methods)
        let results = try eval.run(cases: cases, methods: methodList, knobs: knobs) { printError($0.logLine) }
        print(RetrievalEval.table(results, methods: methodList))
        if let json { try PrettyJSON.data(results).write(to: URL(fileURLWithPath: json)) }
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
            let cases = try RetrievalEval.passkeyCases(lengths: try retrieval.lengthList(), depthCount: retrieval.depths,
                                                       seed: retrieval.seed, filler: filler) { loaded.tokenizer.encode($0).count }
            try retrieval.run(try RetrievalEval(model: loaded, maxTokens: 8), cases: cases,
                              knobs: try compression.config(for: .full))
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
            let cases = try RetrievalEval.needleCases(lengths: try retrieval.lengthList(), depthCount: retrieval.depths,
                                                      haystack: text, needle: needle, question: question,
                                                      expected: answer) { loaded.tokenizer.encode($0).count }
            try retrieval.run(try RetrievalEval(model: loaded, maxTokens: maxTokens), cases: cases,
                              knobs: try compression.config(for: .full))
        }
    }
}
