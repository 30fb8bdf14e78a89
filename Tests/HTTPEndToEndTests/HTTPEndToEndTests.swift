import Foundation
import Testing
import TestSupport

/// The gateway over real HTTP. The checks live in `openai_client_test.py`, because the client that
/// matters is the official `openai` Python package (and `prometheus_client` for the scrape); this
/// test finds a Python that has them (`.venv`, made by scripts/setup.sh, or `FASTKV_PYTHON`) and
/// runs the script against the release binaries. In CI (`CI=true`) a missing binary or package is
/// a failure, never a skip.
enum HTTPTestEnvironment {
    static let root = TestPaths.packageRoot
    static var binDir: URL { root.appendingPathComponent(".build/release") }
    static var python: String {
        ProcessInfo.processInfo.environment["FASTKV_PYTHON"] ?? root.appendingPathComponent(".venv/bin/python3").path
    }
    static var inCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// What is missing to run the script, if anything.
    static var missing: String? {
        let fm = FileManager.default
        for b in ["fastkv", "fastkv-http"] where !fm.isExecutableFile(atPath: binDir.appendingPathComponent(b).path) {
            return "\(binDir.path)/\(b) (swift build -c release)"
        }
        if !fm.fileExists(atPath: TestPaths.smolLMGGUF.path) { return "the model (scripts/fetch-model.sh)" }
        guard fm.isExecutableFile(atPath: python),
              let r = try? CommandRunner.run(python, ["-c", "import openai, prometheus_client, httpx"], timeout: 60), r.status == 0
        else { return "a Python with openai, prometheus_client and httpx at \(python) (scripts/setup.sh)" }
        return nil
    }

    static var shouldRun: Bool { inCI || missing == nil }
}

@Suite(.serialized, .enabled(if: HTTPTestEnvironment.shouldRun, "needs the release binaries and .venv (scripts/setup.sh); runs always in CI"))
struct HTTPEndToEndTests {
    @Test func openAIClientAgainstARealCluster() throws {
        if let missing = HTTPTestEnvironment.missing {
            Issue.record("cannot run the HTTP end-to-end test: missing \(missing)")
            return
        }
        let script = HTTPTestEnvironment.root.appendingPathComponent("Tests/HTTPEndToEndTests/openai_client_test.py").path
        let r = try CommandRunner.run(HTTPTestEnvironment.python,
                                      [script, "--bin-dir", HTTPTestEnvironment.binDir.path, "--model", TestPaths.smolLMGGUF.path],
                                      timeout: 900)
        print(r.stdout)
        #expect(!r.timedOut, "the script did not finish within 900 s")
        #expect(r.status == 0, "HTTP end-to-end checks failed:\n\(r.stdout)\n\(r.stderr.suffix(4000))")
    }
}
