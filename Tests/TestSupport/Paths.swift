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
