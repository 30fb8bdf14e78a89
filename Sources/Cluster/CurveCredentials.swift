import Foundation
import Transport

/// A role's CURVE credentials: its own key pair, the coordinator's public key (every role that
/// connects to the coordinator) and the keys it admits (every role that binds: the coordinator, a
/// decode worker's KV endpoint). nil credentials anywhere mean plain ZMTP, which the roles allow on
/// loopback only (`EndpointExposure`).
///
/// Files (`fastkv keys generate --out DIR --name NAME` writes both):
/// - `NAME.secret` (mode 0600): `name NAME`, `public Z85`, `secret Z85` lines; `#` comment lines.
/// - `NAME.public`: one authorized-keys line, `NAME Z85-PUBLIC-KEY`, so an authorized-keys file is
///   the concatenation of the public files it admits (`AuthorizedKeys`).
public struct CurveCredentials: Sendable {
    public let name: String
    public let keyPair: CurveKeyPair
    /// The coordinator's public key (`--curve-server-key`).
    public let serverKey: CurveKey?
    /// Who may connect to the sockets this role binds (`--authorized-keys`).
    public let authorizedKeys: AuthorizedKeys?

    public init(name: String, keyPair: CurveKeyPair, serverKey: CurveKey?, authorizedKeys: AuthorizedKeys?) {
        self.name = name
        self.keyPair = keyPair
        self.serverKey = serverKey
        self.authorizedKeys = authorizedKeys
    }

    /// Loads the files named by the role's flags; throws `ClusterError.configuration` naming the flag.
    public init(secretKeyFile: String, serverKeyFile: String?, authorizedKeysFile: String?) throws {
        let (name, pair) = try Self.readSecretKey(secretKeyFile)
        self.name = name
        keyPair = pair
        serverKey = try serverKeyFile.map { try Self.readPublicKey($0) }
        authorizedKeys = try authorizedKeysFile.map { path in
            do { return try AuthorizedKeys(parsing: try Self.read(path, flag: "--authorized-keys"), source: path) } catch let e as TransportError {
                throw ClusterError.configuration("--authorized-keys \(path): \(e)")
            }
        }
    }

    /// The security of a socket that connects to the coordinator.
    func coordinatorClient() throws -> CurveSecurity {
        guard let serverKey else {
            throw ClusterError.configuration("CURVE is on (--curve-secret-key) but the coordinator's public key is missing: pass --curve-server-key FILE (or FASTKV_CURVE_SERVER_KEY)")
        }
        return .client(keyPair, serverKey: serverKey)
    }

    /// Starts the context's ZAP handler and returns it with the security of the sockets it guards.
    func server(context: ZMQContext, log: Log) throws -> (ZAPAuthenticator, CurveSecurity) {
        guard let authorizedKeys else {
            throw ClusterError.configuration("CURVE is on (--curve-secret-key) but nobody is admitted: pass --authorized-keys FILE (or FASTKV_AUTHORIZED_KEYS)")
        }
        let auth = try ZAPAuthenticator(context: context, authorizedKeys: authorizedKeys) { line in log(line) }
        return (auth, .server(keyPair))
    }

    // MARK: files

    /// Writes `DIR/NAME.secret` (0600, created exclusively: an existing key is never overwritten)
    /// and `DIR/NAME.public`; returns their paths.
    public static func generate(into directory: String, name: String) throws -> (secret: String, public: String) {
        guard !name.isEmpty, name.utf8.count <= 64,
              name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw ClusterError.configuration("--name '\(name)': use 1–64 of A–Z a–z 0–9 - _ .")
        }
        let pair = try CurveKeyPair.generate()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let secretPath = (directory as NSString).appendingPathComponent("\(name).secret")
        let publicPath = (directory as NSString).appendingPathComponent("\(name).public")
        let secretText = "# fastkv CURVE key pair of \(name) (Z85). Keep private: mode 0600.\nname \(name)\npublic \(pair.publicKey.z85)\nsecret \(pair.secretKey.z85)\n"
        let fd = open(secretPath, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw ClusterError.configuration("cannot create \(secretPath): \(String(cString: strerror(errno))) (an existing key is never overwritten)")
        }
        let bytes = Array(secretText.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count else { throw ClusterError.configuration("could not write \(secretPath)") }
        let publicText = "# fastkv CURVE public key of \(name) (authorized-keys format: NAME Z85-PUBLIC-KEY)\n\(name) \(pair.publicKey.z85)\n"
        try Data(publicText.utf8).write(to: URL(fileURLWithPath: publicPath))
        return (secretPath, publicPath)
    }

    static func read(_ path: String, flag: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ClusterError.configuration("\(flag) \(path): cannot read the file")
        }
        guard data.count <= 1 << 20 else { throw ClusterError.configuration("\(flag) \(path): over 1 MiB, not a key file") }
        return text
    }

    /// A secret key file: the pair, checked (the public line must be the secret's public key).
    public static func readSecretKey(_ path: String) throws -> (name: String, pair: CurveKeyPair) {
        let flag = "--curve-secret-key"
        var fields: [String: String] = [:]
        for (i, raw) in try read(path, flag: flag).split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let parts = raw.split(whereSeparator: \.isWhitespace)
            if parts.isEmpty || parts[0].hasPrefix("#") { continue }   // whole-line comments only: # is Z85
            guard parts.count == 2, ["name", "public", "secret"].contains(parts[0]), fields[String(parts[0])] == nil else {
                throw ClusterError.configuration("\(flag) \(path) line \(i + 1): expected 'name NAME', 'public Z85' or 'secret Z85', once each")
            }
            fields[String(parts[0])] = String(parts[1])
        }
        guard let name = fields["name"], let secretText = fields["secret"], let publicText = fields["public"] else {
            throw ClusterError.configuration("\(flag) \(path): needs name, public and secret lines (is it a .public file?)")
        }
        do {
            let pair = try CurveKeyPair(secretKey: try CurveKey(z85: secretText))
            guard try CurveKey(z85: publicText) == pair.publicKey else {
                throw ClusterError.configuration("\(flag) \(path): the public key is not the secret key's")
            }
            return (name, pair)
        } catch let e as TransportError {
            throw ClusterError.configuration("\(flag) \(path): \(e)")
        }
    }

    /// A public key file (one authorized-keys line).
    public static func readPublicKey(_ path: String) throws -> CurveKey {
        do {
            let keys = try AuthorizedKeys(parsing: try read(path, flag: "--curve-server-key"), source: path)
            guard keys.entries.count == 1 else {
                throw ClusterError.configuration("--curve-server-key \(path): expected one 'NAME Z85' line, found \(keys.entries.count)")
            }
            return keys.entries[0].key
        } catch let e as TransportError {
            throw ClusterError.configuration("--curve-server-key \(path): \(e)")
        }
    }
}
