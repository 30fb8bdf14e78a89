import Cluster
import Foundation
import Testing
import Transport

/// What a role may bind without CURVE, and the key files `fastkv keys generate` writes.
@Suite("CURVE configuration: exposure rule and key files")
struct CurveConfigurationTests {
    @Test("loopback endpoints are recognised; everything else counts as reachable from other hosts")
    func exposure() {
        for loopback in ["tcp://127.0.0.1:5555", "tcp://127.0.0.1:*", "tcp://127.1.2.3:1", "tcp://localhost:5555",
                         "tcp://[::1]:5555", "ipc:///tmp/fastkv", "inproc://x"] {
            #expect(EndpointExposure(endpoint: loopback) == .loopback, "\(loopback)")
        }
        for network in ["tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://10.77.0.1:5555", "tcp://[::]:5555", "tcp://eth0:5555",
                        "tcp://127.0.0.1.evil.example:5", "tcp://128.0.0.1:5", "tcp://1270.0.0.1:5", "udp://127.0.0.1:5", "tcp://127.0.0.1"] {
            #expect(EndpointExposure(endpoint: network) == .network, "\(network)")
        }
    }

    @Test("a non-loopback bind without CURVE is refused naming the flag and the ways out; CURVE or --insecure allow it")
    func exposureRule() throws {
        do {
            try EndpointExposure.check("tcp://0.0.0.0:5555", flag: "--listen", curve: false, insecure: false)
            Issue.record("accepted")
        } catch {
            #expect("\(error)".contains("--listen tcp://0.0.0.0:5555") && "\(error)".contains("--insecure"))
        }
        try EndpointExposure.check("tcp://0.0.0.0:5555", flag: "--listen", curve: true, insecure: false)
        try EndpointExposure.check("tcp://0.0.0.0:5555", flag: "--listen", curve: false, insecure: true)
        try EndpointExposure.check("tcp://127.0.0.1:5555", flag: "--listen", curve: false, insecure: false)
    }

    @Test("generated key files load back, the secret is 0600, nothing is overwritten, bad files are refused by name")
    func keyFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fastkv-keys-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (secret, pub) = try CurveCredentials.generate(into: dir, name: "prefill-0")
        let mode = (try FileManager.default.attributesOfItem(atPath: secret)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        let (name, pair) = try CurveCredentials.readSecretKey(secret)
        #expect(name == "prefill-0")
        #expect(try CurveCredentials.readPublicKey(pub) == pair.publicKey)
        let both = try CurveCredentials(secretKeyFile: secret, serverKeyFile: pub, authorizedKeysFile: pub)
        #expect(both.authorizedKeys?.name(of: pair.publicKey) == "prefill-0")
        #expect(throws: (any Error).self) { try CurveCredentials.generate(into: dir, name: "prefill-0") }
        #expect(throws: (any Error).self) { try CurveCredentials.generate(into: dir, name: "../evil") }
        // A .public file is not a secret key; a tampered public line is caught.
        #expect(throws: (any Error).self) { try CurveCredentials.readSecretKey(pub) }
        let text = try String(contentsOfFile: secret, encoding: .utf8)
        let other = try CurveKeyPair.generate().publicKey.z85
        let tampered = text.replacingOccurrences(of: pair.publicKey.z85, with: other)
        let tamperedPath = dir + "/tampered.secret"
        try tampered.write(toFile: tamperedPath, atomically: true, encoding: .utf8)
        do {
            _ = try CurveCredentials.readSecretKey(tamperedPath)
            Issue.record("a tampered key file loaded")
        } catch {
            #expect("\(error)".contains("not the secret key's"))
        }
    }
}
