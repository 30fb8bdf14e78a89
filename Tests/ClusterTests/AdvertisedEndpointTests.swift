import Cluster
import Testing

/// `fastkv decode-worker --kv-advertise`: what other hosts are told to connect to must be connectable.
@Suite("DecodeWorker advertised KV endpoint")
struct AdvertisedEndpointTests {
    @Test("concrete tcp host:port and ipc paths are accepted unchanged")
    func accepts() throws {
        for ok in ["tcp://10.77.0.101:6001", "tcp://127.0.0.1:1", "tcp://decode-1.local:65535", "tcp://[fd00::1]:6001",
                   "ipc:///tmp/fastkv-kv"] {
            #expect(try DecodeWorker.validateAdvertisedEndpoint(ok) == ok)
        }
    }

    @Test("wildcards, missing or out-of-range ports and other transports are rejected with the reason")
    func rejects() {
        let cases: [(String, String)] = [
            ("tcp://0.0.0.0:6001", "wildcard"), ("tcp://[::]:6001", "wildcard"), ("tcp://*:6001", "concrete host"),
            ("tcp://10.0.0.1:*", "port *"), ("tcp://10.0.0.1", "no port"), ("tcp://10.0.0.1:0", "1...65535"),
            ("tcp://10.0.0.1:65536", "1...65535"), ("tcp://:6001", "concrete host"), ("inproc://kv", "tcp:// or ipc://"),
            ("10.0.0.1:6001", "tcp:// or ipc://"), ("ipc://", "path"),
        ]
        for (endpoint, reason) in cases {
            do {
                _ = try DecodeWorker.validateAdvertisedEndpoint(endpoint)
                Issue.record("\(endpoint) was accepted")
            } catch {
                #expect("\(error)".contains(reason), "\(endpoint): \(error)")
            }
        }
    }
}
