import Foundation

/// Opens a checkpoint of either format: a directory holding `config.json` is an HF checkpoint; a file named
/// `*.gguf` or starting with the GGUF magic is a GGUF checkpoint. Anything else throws `fileNotFound` or
/// `unrecognizedFormat` (the path exists but is neither).
public func openCheckpoint(at url: URL) throws -> any Checkpoint {
    let path = url.path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw CheckpointError.fileNotFound(file: path)
    }
    if isDirectory.boolValue {
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("config.json").path) else {
            throw CheckpointError.unrecognizedFormat(file: path)
        }
        return try HFCheckpoint(directory: url)
    }
    if url.pathExtension.lowercased() == "gguf" || startsWithGGUFMagic(url) {
        return try GGUFCheckpoint(url: url)
    }
    throw CheckpointError.unrecognizedFormat(file: path)
}

/// Whether the file's first four bytes are "GGUF" (unreadable files answer false).
private func startsWithGGUFMagic(_ url: URL) -> Bool {
    guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
    defer { try? handle.close() }
    guard let head = try? handle.read(upToCount: 4) else { return false }
    return head == Data("GGUF".utf8)
}
