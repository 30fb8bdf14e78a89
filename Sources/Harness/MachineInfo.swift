import Foundation

/// Facts about this machine and this process for the reports: CPU model, CPU steal, the checkout's
/// commit, CPU time and peak memory. Each returns nil (or "unknown", or 0) where the system does not
/// tell, rather than failing the run.
public enum MachineInfo {
    /// CPU jiffies of all CPUs together, from the first line of /proc/stat.
    public struct CPUCounters: Sendable, Equatable {
        public var steal: Double
        public var total: Double

        public init(steal: Double, total: Double) {
            self.steal = steal
            self.total = total
        }

        /// Parses the aggregate `cpu  user nice system idle iowait irq softirq steal …` line: steal is
        /// the 8th number, total the sum of the first 8 (guest time is already inside user and nice).
        public init?(procStat text: String) {
            guard let line = text.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
            let v = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            guard v.count >= 8 else { return nil }
            self.init(steal: v[7], total: v.prefix(8).reduce(0, +))
        }

        /// The share of CPU time stolen between `self` (earlier) and `later`; nil if no time passed.
        public func stealShare(until later: CPUCounters) -> Double? {
            later.total > total ? (later.steal - steal) / (later.total - total) : nil
        }
    }

    public static func cpuModel() -> String {
        guard let s = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        for line in s.split(separator: "\n") where line.hasPrefix("model name") {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        }
        return "unknown"
    }

    public static func cpuCounters() -> CPUCounters? {
        (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)).flatMap(CPUCounters.init(procStat:))
    }

    /// `git rev-parse HEAD` in the current directory; nil outside a checkout or without git.
    public static func gitCommit() -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "rev-parse", "HEAD"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        let s = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return s.isEmpty ? nil : s
    }

    /// CPU time used by this process so far (all threads), in seconds. On a shared machine with CPU
    /// steal, CPU time shows the work done even when wall time is inflated by other processes.
    public static func processCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Peak resident set size of this process (VmHWM), in bytes; 0 where /proc does not say.
    public static func peakRSSBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            // "VmHWM:\t 123456 kB": a tab, then the number right-aligned in spaces (none from 8 digits on).
            let kb = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { Int($0) }.first ?? 0
            return kb * 1024
        }
        return 0
    }
}
