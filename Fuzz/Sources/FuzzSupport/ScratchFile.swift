import Foundation

/// The readers under test take a path (they memory-map it), so each input is written to one file per
/// process, overwritten every time: in /dev/shm when it exists, so no disk is involved.
public struct ScratchFile: Sendable {
    public let url: URL

    public init(suffix: String) {
        let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        url = URL(fileURLWithPath: dir).appendingPathComponent("fastkv-fuzz-\(getpid())\(suffix)")
    }

    /// Replaces the file's contents with `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0, "cannot open \(url.path): errno \(errno)")
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + done, bytes.count - done)
            precondition(n > 0, "cannot write \(url.path): errno \(errno)")
            done += n
        }
    }

    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    public func remove() {
        unlink(url.path)
    }
}
