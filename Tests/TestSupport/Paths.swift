import Foundation

/// Locations shared by the test targets. Tests find files relative to this source file, so they run
/// from any working directory.
public enum TestPaths {
    /// The package root (the folder holding Package.swift).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Committed reference outputs of HF transformers (copied from ../shared/fixtures).
    public static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures/smollm2")

    /// The models directory: `$FASTKV_MODELS_DIR` or `<root>/models`.
    public static var models: URL {
        if let dir = ProcessInfo.processInfo.environment["FASTKV_MODELS_DIR"], !dir.isEmpty {
            return URL(fileURLWithPath: dir)
        }
        return packageRoot.appendingPathComponent("models")
    }

    /// The default GGUF (fetched by scripts/fetch-model.sh).
    public static var smolLMGGUF: URL { models.appendingPathComponent("SmolLM2-135M-Instruct.Q4_1.gguf") }

    /// The same weights as an HF directory (scripts/fetch-model.sh --hf).
    public static var smolLMHF: URL { models.appendingPathComponent("SmolLM2-135M-Instruct-hf") }
}

extension TestPaths {
    /// The release `fastkv` binary (scripts/test.sh builds it before the tests run).
    public static var fastkvBinary: URL { packageRoot.appendingPathComponent(".build/release/fastkv") }
}

/// Runs a command and captures its output (with a deadline, so a hung child fails the test).
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// The child outlived `timeout` and was killed (status and output are what it left).
    public var timedOut = false
}

public enum CommandRunner {
    /// Runs `executable` to completion in the package root (killed after `timeout` seconds).
    public static func run(_ executable: URL, _ arguments: [String], timeout: Double = 300,
                           environment: [String: String] = [:]) throws -> CommandResult {
        try run(executable.path, arguments, timeout: timeout, environment: environment)
    }

    /// The same for a path or a name on PATH.
    public static func run(_ executable: String, _ arguments: [String], timeout: Double = 300,
                           environment: [String: String] = [:]) throws -> CommandResult {
        let child = try ChildProcess(executable, arguments, environment: environment)
        let (status, timedOut) = child.wait(timeout: timeout)
        return CommandResult(status: status, stdout: child.stdout, stderr: child.stderr, timedOut: timedOut)
    }

    /// Runs the release `fastkv` binary; fails clearly if it has not been built.
    public static func fastkv(_ arguments: [String], timeout: Double = 300) throws -> CommandResult {
        guard FileManager.default.isExecutableFile(atPath: TestPaths.fastkvBinary.path) else {
            throw Fixtures.FixtureError.unreadable(
                "\(TestPaths.fastkvBinary.path) (build it: swift build -c release --product fastkv)")
        }
        return try run(TestPaths.fastkvBinary, arguments, timeout: timeout)
    }
}
