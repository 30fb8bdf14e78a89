/// Whether an endpoint a role binds or advertises is reachable from other hosts, and the rule that
/// follows: plain (unauthenticated, unencrypted) ZMTP only on loopback, unless the operator says
/// `--insecure`. Without it, anyone who can reach a port could register a fake decode worker and
/// receive every prompt's KV, or write every answer (issue 11).
public enum EndpointExposure: Sendable, Equatable {
    /// 127.0.0.0/8, ::1, localhost, ipc://, inproc://: only this host can connect.
    case loopback
    /// Anything else, including wildcards (`*`, 0.0.0.0, ::) and interface names.
    case network

    public init(endpoint: String) {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { self = .loopback; return }
        guard endpoint.hasPrefix("tcp://") else { self = .network; return }
        var hostPort = endpoint.dropFirst("tcp://".count)
        // tcp://SOURCE;HOST:PORT (a connect with a source address): the destination decides.
        if let semicolon = hostPort.lastIndex(of: ";") { hostPort = hostPort[hostPort.index(after: semicolon)...] }
        guard let colon = hostPort.lastIndex(of: ":") else { self = .network; return }
        var host = String(hostPort[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { self = .loopback; return }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        if octets.count == 4, octets[0] == "127", octets.allSatisfy({ o in !o.isEmpty && o.count <= 3 && o.allSatisfy(\.isASCII) && UInt8(o) != nil }) {
            self = .loopback
            return
        }
        self = .network
    }

    /// Refuses a non-loopback `endpoint` (named by `flag`) without CURVE unless `insecure`.
    public static func check(_ endpoint: String, flag: String, curve: Bool, insecure: Bool) throws {
        guard !curve, !insecure, EndpointExposure(endpoint: endpoint) == .network else { return }
        throw ClusterError.configuration(
            "\(flag) \(endpoint) is reachable from other hosts, and without CURVE any of them could join the cluster: "
                + "pass --curve-secret-key and --authorized-keys (see `fastkv keys`), bind a loopback address, "
                + "or accept the risk with --insecure")
    }
}
