import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// scripts/delay-relay.py, the userspace link delay of scripts/netns-cluster.sh (no root needed):
/// bytes through it arrive intact and in order, each direction no earlier than DELAY after they
/// were sent, and a half close is passed on too.
@Suite("delay relay", .serialized)
struct DelayRelayTests {
    static let relayScript = TestPaths.packageRoot.appendingPathComponent("scripts/delay-relay.py").path

    @Test("50 ms relay on loopback: connect reaches the target after ≥ 150 ms; a 1 MiB echo and small echoes take ≥ 100 ms and come back byte-identical")
    func relayDelaysBothDirections() throws {
        guard let python = Self.python3() else { print("skipped: no python3"); return }
        let target = try TCP.listen()
        defer { close(target.fd) }
        let tmp = try TemporaryDirectory("delay-relay")
        let relay = try ChildProcess(python, [Self.relayScript, "--listen", "127.0.0.1:0", "--target",
                                              "127.0.0.1:\(target.port)", "--delay", "50ms"], outputDirectory: tmp.url)
        defer { relay.terminate() }
        let line = try relay.waitForLine(containing: "listening on", in: relay.stdoutURL, timeout: 20)
        let relayPort = try #require(line.split(separator: " ").dropFirst(3).first?.split(separator: ":").last.flatMap { Int($0) },
                                     "no port in '\(line)'")

        let clock = ContinuousClock()
        let connected = clock.now
        let client = try TCP.connect(port: relayPort)
        defer { close(client) }
        // The relay opens its connection to the target 3 × DELAY later (TCP's handshake on the link).
        let server = try TCP.accept(target.fd, timeout: 10)
        defer { close(server) }
        #expect(clock.now - connected >= .milliseconds(150), "the target saw the connection after \(clock.now - connected)")

        // Large: several 256 KiB relay chunks, so order across chunks is checked too.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15   // xorshift: varied bytes, no syscall per byte
        let payload = (0..<(1 << 20)).map { _ -> UInt8 in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
        let t0 = clock.now
        try TCP.sendAll(client, payload)
        let there = try TCP.receive(server, count: payload.count, timeout: 10)
        let oneWay = clock.now - t0
        #expect(there == payload, "bytes changed on the way to the target")
        try TCP.sendAll(server, there)
        let back = try TCP.receive(client, count: payload.count, timeout: 10)
        let roundTrip = clock.now - t0
        #expect(back == payload, "bytes changed on the way back")
        #expect(oneWay >= .milliseconds(50), "one way took \(oneWay)")
        #expect(roundTrip >= .milliseconds(100), "round trip took \(roundTrip)")
        #expect(roundTrip < .seconds(5), "round trip took \(roundTrip)")

        // Small messages: the delay is per chunk, not per buffer fill.
        for _ in 0..<3 {
            let t = clock.now
            try TCP.sendAll(client, Array("ping".utf8))
            let got = try TCP.receive(server, count: 4, timeout: 5)
            try TCP.sendAll(server, got)
            let echoed = try TCP.receive(client, count: 4, timeout: 5)
            let rtt = clock.now - t
            #expect(echoed == Array("ping".utf8))
            #expect(rtt >= .milliseconds(100) && rtt < .seconds(3), "small round trip took \(rtt)")
        }

        // A half close arrives after the delay as EOF.
        let t = clock.now
        shutdown(client, Int32(SHUT_WR))
        let rest = try TCP.receive(server, count: 1, timeout: 5, allowEOF: true)
        #expect(rest.isEmpty, "expected EOF")
        #expect(clock.now - t >= .milliseconds(50), "EOF passed on after \(clock.now - t)")

        // SIGTERM stops it promptly, open connection or not (netns-cluster.sh down relies on it).
        #expect(relay.terminate(), "the relay needed SIGKILL")
    }

    @Test("the relay rejects a malformed delay or address with exit status 2")
    func relayRejectsBadArguments() throws {
        guard let python = Self.python3() else { print("skipped: no python3"); return }
        let ok = try CommandRunner.run(URL(fileURLWithPath: python), [Self.relayScript, "--parse-delay", "0.2ms"], timeout: 30)
        #expect(ok.status == 0 && ok.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.0002")
        for bad in [["--parse-delay", "fast"], ["--parse-delay", "20parsecs"],
                    ["--listen", "nowhere", "--target", "127.0.0.1:1", "--delay", "1ms"]] {
            let r = try CommandRunner.run(URL(fileURLWithPath: python), [Self.relayScript] + bad, timeout: 30)
            #expect(r.status == 2 && r.stderr.contains("delay-relay:"), "\(bad): status \(r.status), \(r.stderr)")
        }
    }

    @Test("decode-worker --kv-advertise rejects endpoints other hosts cannot connect to")
    func kvAdvertiseValidation() throws {
        guard FileManager.default.isExecutableFile(atPath: TestPaths.fastkvBinary.path) else {
            print("skipped: no fastkv binary"); return
        }
        for bad in ["tcp://0.0.0.0:6001", "tcp://10.0.0.1:*", "tcp://10.0.0.1", "tcp://:6001", "udp://10.0.0.1:1",
                    "inproc://kv", "tcp://10.0.0.1:70000"] {
            let r = try CommandRunner.fastkv(["decode-worker", "--kv-advertise", bad, "--model", "/nonexistent"], timeout: 30)
            #expect(r.status != 0 && r.stderr.contains("--kv-advertise"), "\(bad): status \(r.status), \(r.stderr)")
        }
        let help = try CommandRunner.fastkv(["decode-worker", "--help"], timeout: 30)
        #expect(help.stdout.contains("--kv-advertise"))
    }

    static func python3() -> String? {
        for p in ["/usr/bin/python3", "/usr/local/bin/python3"] where FileManager.default.isExecutableFile(atPath: p) { return p }
        return nil
    }
}

/// Blocking loopback TCP with poll deadlines: just enough to drive the relay.
private enum TCP {
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    static func loopback(port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        return a
    }

    static func listen() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket: \(errno)") }
        var a = loopback(port: 0)
        let bound = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, Glibc.listen(fd, 8) == 0 else { close(fd); throw Failure("bind/listen: \(errno)") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return (fd, Int(UInt16(bigEndian: a.sin_port)))
    }

    static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket: \(errno)") }
        var a = loopback(port: port)
        let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(fd); throw Failure("connect to \(port): \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    static func wait(_ fd: Int32, for events: Int16, timeout: Double) throws {
        var p = pollfd(fd: fd, events: events, revents: 0)
        guard poll(&p, 1, Int32(timeout * 1000)) == 1 else { throw Failure("timed out after \(timeout) s waiting on a socket") }
    }

    static func accept(_ listener: Int32, timeout: Double) throws -> Int32 {
        try wait(listener, for: Int16(POLLIN), timeout: timeout)
        let fd = Glibc.accept(listener, nil, nil)
        guard fd >= 0 else { throw Failure("accept: \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure("send: \(errno)") }
            sent += n
        }
    }

    /// Exactly `count` bytes (or fewer at EOF when `allowEOF`), each wait bounded by `timeout`.
    static func receive(_ fd: Int32, count: Int, timeout: Double, allowEOF: Bool = false) throws -> [UInt8] {
        var out = [UInt8](), buffer = [UInt8](repeating: 0, count: 1 << 16)
        while out.count < count {
            try wait(fd, for: Int16(POLLIN), timeout: timeout)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, min($0.count, count - out.count), 0) }
            if n == 0 {
                if allowEOF { return out }
                throw Failure("EOF after \(out.count) of \(count) bytes")
            }
            guard n > 0 else { throw Failure("recv: \(errno)") }
            out += buffer[0..<n]
        }
        return out
    }
}
