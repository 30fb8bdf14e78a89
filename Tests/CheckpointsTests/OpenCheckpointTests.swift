import Checkpoints
import Foundation
import Testing
import TestSupport

@Suite struct OpenCheckpointTests {
    @Test func opensBothFormats() throws {
        let dir = try TemporaryDirectory()
        let model = TinyLlama()
        try model.writeGGUF(to: dir.file("m.gguf"), matrixType: .q4_0)
        try model.writeHF(to: dir.file("hf"))
        let g = try openCheckpoint(at: dir.file("m.gguf"))
        #expect(g is GGUFCheckpoint && g.format == "gguf" && g.url == dir.file("m.gguf"))
        let h = try openCheckpoint(at: dir.file("hf"))
        #expect(h is HFCheckpoint && h.format == "safetensors")
        #expect(g.config == h.config)
        // GGUF recognised by its magic whatever the extension.
        try FileManager.default.copyItem(at: dir.file("m.gguf"), to: dir.file("model.bin"))
        #expect(try openCheckpoint(at: dir.file("model.bin")) is GGUFCheckpoint)
    }

    @Test func nonexistentPath() throws {
        let url = URL(fileURLWithPath: "/nonexistent/fastkv/model.gguf")
        expectError(file: url, { try openCheckpoint(at: url) }) { $0 == .fileNotFound(file: url.path) }
        #expect(CheckpointError.fileNotFound(file: url.path).description.contains("not found"))
        expectError(file: url, { try GGUFCheckpoint(url: url) }) { $0 == .fileNotFound(file: url.path) }
        expectError(file: url, { try HFCheckpoint(directory: url) }) { $0 == .fileNotFound(file: url.path) }
    }

    @Test func randomFileOrPlainDirectory() throws {
        let dir = try TemporaryDirectory()
        let text = dir.file("notes.txt")
        try Data("just some text, not a model".utf8).write(to: text)
        expectError(file: text, { try openCheckpoint(at: text) }) { $0 == .unrecognizedFormat(file: text.path) }
        #expect(CheckpointError.unrecognizedFormat(file: text.path).description
            .contains("neither a GGUF file (*.gguf) nor an HF directory"))
        let empty = dir.file("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        expectError(file: empty, { try openCheckpoint(at: empty) }) { $0 == .unrecognizedFormat(file: empty.path) }
        // A *.gguf that is not GGUF is reported as such.
        let fake = dir.file("fake.gguf")
        try Data("GGML and then some".utf8).write(to: fake)
        expectError(file: fake, { try openCheckpoint(at: fake) }) { if case .badMagic = $0 { true } else { false } }
        // A directory handed to the GGUF reader.
        expectError(file: empty, { try GGUFCheckpoint(url: empty) }) { if case .ioError = $0 { true } else { false } }
    }
}
