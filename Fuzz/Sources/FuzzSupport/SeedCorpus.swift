import Foundation

/// One committed seed: a real input produced by the project's own encoders or writers.
public struct Seed: Sendable {
    public let name: String
    public let bytes: [UInt8]

    public init(_ name: String, _ bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
    }
}

/// Seed writing and checking, selected by environment because libFuzzer owns argv. Call from
/// `LLVMFuzzerInitialize`; without either variable it returns and fuzzing starts.
///
/// - `FASTKV_FUZZ_WRITE_SEEDS=DIR`: replaces `DIR/seed-*` with `seeds()` and exits 0.
/// - `FASTKV_FUZZ_CHECK_SEEDS=DIR`: runs `accept` on every `DIR/seed-*` (each must decode as what it
///   was written as: a seed the decoder now rejects, e.g. after a protocol change, only exercises the
///   first check) and exits 1 naming each rejected seed, 0 otherwise.
public enum SeedCorpus {
    public static func handleEnvironment(target: String, seeds: () throws -> [Seed],
                                         accept: ([UInt8]) -> String?) {
        if let dir = environment("FASTKV_FUZZ_WRITE_SEEDS") {
            do {
                let url = URL(fileURLWithPath: dir, isDirectory: true)
                try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
                for old in try seedFiles(in: url) { try FileManager.default.removeItem(at: old) }
                let all = try seeds()
                for seed in all {
                    try Data(seed.bytes).write(to: url.appendingPathComponent("seed-" + seed.name))
                }
                print("\(target): wrote \(all.count) seeds to \(dir)")
                finish(0)
            } catch {
                print("\(target): writing seeds failed: \(error)")
                finish(1)
            }
        }
        if let dir = environment("FASTKV_FUZZ_CHECK_SEEDS") {
            do {
                let files = try seedFiles(in: URL(fileURLWithPath: dir, isDirectory: true))
                var rejected = 0
                for file in files {
                    if let reason = accept(Array(try Data(contentsOf: file))) {
                        print("\(target): seed \(file.lastPathComponent) is rejected: \(reason)")
                        rejected += 1
                    }
                }
                print("\(target): \(files.count - rejected) of \(files.count) seeds accepted")
                finish(rejected == 0 && !files.isEmpty ? 0 : 1)
            } catch {
                print("\(target): reading seeds failed: \(error)")
                finish(1)
            }
        }
    }

    /// getenv, not ProcessInfo: Foundation's cached environment reads as a leak to LeakSanitizer.
    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Ends the process without LeakSanitizer's exit check (these modes never fuzz; objects still
    /// referenced by globals would read as leaks) and with stdout flushed.
    private static func finish(_ status: Int32) -> Never {
        fflush(nil)   // every stream (stdout is a C global Swift 6 will not read)
        _exit(status)
    }

    private static func seedFiles(in dir: URL) throws -> [URL] {
        guard FileManager.default.fileExists(atPath: dir.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
            .filter { $0.lastPathComponent.hasPrefix("seed-") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }
}
