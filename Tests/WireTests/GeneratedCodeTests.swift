import Foundation
import Testing

/// The committed protoc-c output must be exactly what protoc-c makes of Proto/fastkv.proto: a schema
/// edit without `scripts/gen-proto.sh` would otherwise ship a wire format nobody can see in review.
@Suite("Generated protobuf-c code")
struct GeneratedCodeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func findExecutable(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    @Test("committed fastkv.pb-c.{h,c} match a fresh protoc-c run")
    func notStale() throws {
        guard let protoc = Self.findExecutable("protoc-c") else {
            Issue.record("protoc-c not found on PATH: install protobuf-c-compiler (apt-get install -y protobuf-c-compiler); CI installs it, so this check cannot be skipped")
            return
        }
        let temp = FileManager.default.temporaryDirectory.appendingPathComponent("fastkv-proto-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: temp) }

        // Same invocation as scripts/gen-proto.sh: from Proto/, so the output names "fastkv.proto".
        let process = Process()
        process.executableURL = protoc
        process.arguments = ["--c_out=\(temp.path)", "fastkv.proto"]
        process.currentDirectoryURL = Self.root.appendingPathComponent("Proto")
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        try #require(process.terminationStatus == 0, "protoc-c failed: \(stderr)")

        let pairs = [("fastkv.pb-c.h", "Sources/FastKVProto/include/fastkv.pb-c.h"),
                     ("fastkv.pb-c.c", "Sources/FastKVProto/fastkv.pb-c.c")]
        for (generated, committed) in pairs {
            let fresh = try Data(contentsOf: temp.appendingPathComponent(generated))
            let current = try Data(contentsOf: Self.root.appendingPathComponent(committed))
            #expect(fresh == current, "\(committed) is stale: run scripts/gen-proto.sh and commit the result")
        }
    }
}
