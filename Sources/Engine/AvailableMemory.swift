import Foundation

/// How much memory this process may still take, and where that figure comes from: the
/// `FASTKV_MEMORY_LIMIT` override (bytes, or with a K/M/G/T suffix, binary), else the tighter of
/// the cgroup's limit (v2 `memory.max`, v1 `memory.limit_in_bytes`, minus what the group already
/// holds apart from reclaimable page cache) and the kernel's `MemAvailable`. A container's limit
/// is what the out-of-memory killer enforces, so it wins over the host's free memory.
public struct AvailableMemory: Sendable, Equatable, CustomStringConvertible {
    public var bytes: Int
    /// e.g. "FASTKV_MEMORY_LIMIT", "cgroup memory.max", "MemAvailable".
    public var source: String

    public init(bytes: Int, source: String) {
        self.bytes = bytes
        self.source = source
    }

    public var description: String { "\(MemoryPlan.format(bytes)) (\(source))" }

    /// Reads the environment, the cgroup and /proc/meminfo. nil when none is readable (then no
    /// check is made: an unknown platform is not refused).
    /// - Throws: `EngineError.invalidRequest` for a malformed `FASTKV_MEMORY_LIMIT`.
    public static func current(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> AvailableMemory? {
        if let text = environment["FASTKV_MEMORY_LIMIT"] {
            guard let bytes = parseBytes(text) else {
                throw EngineError.invalidRequest("FASTKV_MEMORY_LIMIT '\(text)' is not a byte count (e.g. 8589934592, 512M, 8G)")
            }
            return AvailableMemory(bytes: bytes, source: "FASTKV_MEMORY_LIMIT")
        }
        let system = memAvailable().map { AvailableMemory(bytes: $0, source: "MemAvailable") }
        guard let group = cgroupHeadroom() else { return system }
        guard let system else { return group }
        return group.bytes < system.bytes ? group : system
    }

    /// "123", "512M", "8G", "1.5G", "64KiB"… (binary multiples); nil for anything else.
    public static func parseBytes(_ text: String) -> Int? {
        var s = text.trimmingCharacters(in: .whitespaces).uppercased()
        for suffix in ["IB", "B"] where s.hasSuffix(suffix) && s.count > suffix.count { s.removeLast(suffix.count); break }
        let units: [Character: Double] = ["K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776]
        var scale: Double = 1
        if let last = s.last, let u = units[last] { scale = u; s.removeLast() }
        guard let value = Double(s), value.isFinite, value >= 0, value * scale < Double(Int.max) else { return nil }
        return Int(value * scale)
    }

    static func memAvailable() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kib = Int(fields[1]) { return kib * 1024 }
        }
        return nil
    }

    /// The cgroup's limit minus its non-reclaimable usage (v2), or the v1 limit; nil without a limit.
    static func cgroupHeadroom() -> AvailableMemory? {
        func read(_ path: String) -> String? {
            (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // cgroup v2: "0::/some/path" in /proc/self/cgroup.
        if let line = read("/proc/self/cgroup")?.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) {
            let dir = "/sys/fs/cgroup" + line.dropFirst(3)
            if let maxText = read(dir + "/memory.max"), let limit = Int(maxText) {
                let current = read(dir + "/memory.current").flatMap { Int($0) } ?? 0
                var file = 0
                for stat in (read(dir + "/memory.stat") ?? "").split(separator: "\n") where stat.hasPrefix("file ") {
                    file = Int(stat.split(separator: " ").last ?? "") ?? 0
                }
                return AvailableMemory(bytes: max(0, limit - max(0, current - file)), source: "cgroup memory.max")
            }
        }
        if let v1 = read("/sys/fs/cgroup/memory/memory.limit_in_bytes").flatMap({ Int($0) }), v1 < 1 << 60 {
            let used = read("/sys/fs/cgroup/memory/memory.usage_in_bytes").flatMap { Int($0) } ?? 0
            return AvailableMemory(bytes: max(0, v1 - used), source: "cgroup memory.limit_in_bytes")
        }
        return nil
    }
}
