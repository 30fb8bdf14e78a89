import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process with stdin on /dev/null and stdout/stderr in files: the one way tests start
/// programs. posix_spawn, not Foundation's Process: the cluster scripts leave background processes
/// that inherit the output, and on Linux Process.waitUntilExit (or a pipe's EOF) then never comes;
/// waitpid on the direct child and files for the output have no such trap. Every wait has a
/// deadline, after which the child gets SIGTERM and then SIGKILL.
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    public let stdoutURL: URL
    public let stderrURL: URL
    private var exitStatus: Int32?

    /// Starts `executable` (a path, or a name looked up on PATH) through `/usr/bin/env`, which also
    /// sets `environment` and the working directory.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                directory: URL = TestPaths.packageRoot, outputDirectory: URL? = nil) throws {
        let outDir = outputDirectory ?? FileManager.default.temporaryDirectory
        let id = UUID().uuidString
        stdoutURL = outDir.appendingPathComponent("child-\(id).out")
        stderrURL = outDir.appendingPathComponent("child-\(id).err")
        let argv = ["/usr/bin/env", "--chdir=" + directory.path]
            + environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } + [executable] + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutURL.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrURL.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var cArgs = argv.map { strdup($0) }
        defer { cArgs.forEach { free($0) } }
        cArgs.append(nil)
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/usr/bin/env", &actions, nil, cArgs, environ)
        guard rc == 0 else { throw Fixtures.FixtureError.unreadable("posix_spawn \(executable): error \(rc)") }
        self.pid = pid
    }

    deinit {
        terminate()
        try? FileManager.default.removeItem(at: stdoutURL)
        try? FileManager.default.removeItem(at: stderrURL)
    }

    public var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// The exit status if the child has ended (128 + signal for a signalled child), without blocking.
    public func poll() -> Int32? {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        exitStatus = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return exitStatus
    }

    /// Waits up to `timeout` seconds for the child to end; on expiry terminates it.
    /// - Returns: its status and whether the deadline ran out.
    public func wait(timeout: Double) -> (status: Int32, timedOut: Bool) {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let s = poll() { return (s, false) }
            usleep(10_000)
        }
        terminate()
        return (poll() ?? 137, true)
    }

    /// Waits until `file` (the child's stdout or stderr) has a line containing `needle`.
    public func waitForLine(containing needle: String, in file: URL, timeout: Double) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let text = try? String(contentsOf: file, encoding: .utf8),
               let line = text.split(separator: "\n").first(where: { $0.contains(needle) }) { return String(line) }
            if let s = poll() { throw Fixtures.FixtureError.unreadable("the child exited (status \(s)) before printing '\(needle)'") }
            usleep(20_000)
        }
        throw Fixtures.FixtureError.unreadable("no '\(needle)' from the child within \(timeout) s")
    }

    /// SIGTERM, then SIGKILL after 2 s; true when the child had ended or SIGTERM was enough.
    @discardableResult
    public func terminate() -> Bool {
        if poll() != nil { return true }
        kill(pid, SIGTERM)
        for _ in 0..<100 {
            if poll() != nil { return true }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        exitStatus = 128 + SIGKILL
        return false
    }
}
