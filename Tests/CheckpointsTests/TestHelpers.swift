import Checkpoints
import Foundation
import Testing
import TestSupport

/// The `CheckpointError` thrown by `body`, or nil (recording an issue) if it succeeded or threw something else.
func checkpointError(_ body: () throws -> Any, sourceLocation: SourceLocation = #_sourceLocation) -> CheckpointError? {
    do {
        let value = try body()
        Issue.record("expected a CheckpointError, got \(value)", sourceLocation: sourceLocation)
    } catch let error as CheckpointError {
        return error
    } catch {
        Issue.record("expected a CheckpointError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Asserts that `body` throws a `CheckpointError` accepted by `matches`, that the error names `file`, and that
/// its message mentions the file path.
func expectError(file: URL, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Any,
                 matches: (CheckpointError) -> Bool) {
    guard let error = checkpointError(body, sourceLocation: sourceLocation) else { return }
    #expect(matches(error), "unexpected error: \(error)", sourceLocation: sourceLocation)
    #expect(error.file == file.path, "error names \(error.file), expected \(file.path)", sourceLocation: sourceLocation)
    #expect(error.description.hasPrefix(file.path), "message does not start with the file: \(error)",
            sourceLocation: sourceLocation)
    #expect(!error.description.contains("\n"), "message is not one line: \(error)", sourceLocation: sourceLocation)
}

/// Bit-exact comparison of float arrays; records the first mismatch.
func expectBitIdentical(_ a: [Float], _ b: [Float], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard a.count == b.count else {
        Issue.record("\(what): \(a.count) vs \(b.count) elements", sourceLocation: sourceLocation)
        return
    }
    if let i = a.indices.first(where: { a[$0].bitPattern != b[$0].bitPattern }) {
        Issue.record("\(what): first mismatch at \(i): \(a[i]) vs \(b[i])", sourceLocation: sourceLocation)
    }
}

extension TinyLlama {
    /// A model with hidden 256, so 256-wide blocks (K-quants) fit in a row.
    static let wideConfig = ModelConfig(layerCount: 1, hiddenSize: 256, intermediateSize: 96, headCount: 4,
                                        kvHeadCount: 2, headDim: 64, vocabularySize: 64, contextLength: 128,
                                        rmsNormEpsilon: 1e-6, ropeTheta: 10000, tieWordEmbeddings: true,
                                        bosTokenId: 0, eosTokenIds: [0])
    /// GQA with 3 query heads per KV head and tied embeddings.
    static let gqa3Config = ModelConfig(layerCount: 3, hiddenSize: 96, intermediateSize: 64, headCount: 6,
                                        kvHeadCount: 2, headDim: 16, vocabularySize: 80, contextLength: 512,
                                        rmsNormEpsilon: 1e-5, ropeTheta: 500000, tieWordEmbeddings: true,
                                        bosTokenId: 1, eosTokenIds: [0, 2])
}
