import ArgumentParser
import Foundation
import Harness

@main
struct FastKVCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fastkv",
        abstract: "CPU-first LLM serving with FastKV-compressed KV transfer between prefill and decode.",
        subcommands: [GenerateCommand.self, TokenizeCommand.self, CoordinatorCommand.self, PrefillWorkerCommand.self,
                      DecodeWorkerCommand.self, SubmitCommand.self, ClusterStatusCommand.self, BenchEngineCommand.self,
                      BenchPrefillCommand.self, EvalCommand.self, BenchCommand.self, LoadCommand.self,
                      KeysCommand.self, HeadScoresCommand.self])
}

/// Runs a command body, turning thrown errors into a one-line message on stderr and exit code 1.
func runReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        FileHandle.standardError.write(Data("fastkv: error: \(error)\n".utf8))
        throw ExitCode(1)
    }
}

/// Runs a check of flag values in `validate()`: a harness error there is a usage error (the message,
/// then the usage, exit code 64), like any other `ValidationError`.
func usageChecked<T>(_ body: () throws(HarnessError) -> T) throws -> T {
    do { return try body() } catch { throw ValidationError(error.description) }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
