import ArgumentParser
import Cluster
import Foundation

/// The CURVE key files of a role (`fastkv keys` explains the formats). Each flag falls back to its
/// environment variable, so scripts and `fastkv bench`'s `submit` subprocesses can set them once.
/// No secret key = no CURVE (plain ZMTP, which the roles allow on loopback only).
struct CurveOptions: ParsableArguments {
    @Option(help: ArgumentHelp("This role's CURVE key pair (NAME.secret from `fastkv keys generate`); turns CURVE on. Env: FASTKV_CURVE_SECRET_KEY.",
                               valueName: "file"))
    var curveSecretKey: String?
    @Option(help: ArgumentHelp("The coordinator's public key (its NAME.public), for every role that connects to it. Env: FASTKV_CURVE_SERVER_KEY.",
                               valueName: "file"))
    var curveServerKey: String?
    @Option(help: ArgumentHelp("Public keys admitted by the sockets this role binds (coordinator; decode worker's KV endpoint): 'NAME Z85-KEY' lines. Env: FASTKV_AUTHORIZED_KEYS.",
                               valueName: "file"))
    var authorizedKeys: String?

    static let secretKeyVariable = "FASTKV_CURVE_SECRET_KEY"
    static let serverKeyVariable = "FASTKV_CURVE_SERVER_KEY"
    static let authorizedKeysVariable = "FASTKV_AUTHORIZED_KEYS"

    /// The loaded credentials, nil when no secret key is given; a key file that does not load is an error.
    func credentials() throws -> CurveCredentials? {
        let env = ProcessInfo.processInfo.environment
        func pick(_ flag: String?, _ variable: String) -> String? {
            if let flag { return flag }
            if let v = env[variable], !v.isEmpty { return v }
            return nil
        }
        let server = pick(curveServerKey, Self.serverKeyVariable)
        let authorized = pick(authorizedKeys, Self.authorizedKeysVariable)
        guard let secret = pick(curveSecretKey, Self.secretKeyVariable) else {
            if server != nil || authorized != nil {
                throw ClusterError.configuration("--curve-server-key / --authorized-keys need --curve-secret-key (or \(Self.secretKeyVariable)): CURVE needs this role's own key pair")
            }
            return nil
        }
        return try CurveCredentials(secretKeyFile: secret, serverKeyFile: server, authorizedKeysFile: authorized)
    }
}

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "CURVE keys for authenticated, encrypted cluster links.",
        discussion: """
        Every role holds a key pair. Servers (the coordinator; each decode worker's KV endpoint) admit \
        only the public keys in their --authorized-keys file; clients (workers, submit, cluster-status) \
        check the coordinator's public key (--curve-server-key). Prefill workers learn each decode \
        worker's key from the coordinator.

        Files (keys are 40-character Z85, ZeroMQ RFC 32; '#' starts a comment line):
          NAME.secret  (0600) lines 'name NAME', 'public Z85', 'secret Z85'
          NAME.public  one authorized-keys line 'NAME Z85-PUBLIC-KEY'
          authorized keys  'NAME Z85-PUBLIC-KEY' lines (cat *.public > FILE)

        Flags (environment fallback in brackets):
          --curve-secret-key FILE  this role's NAME.secret; turns CURVE on
                                   [FASTKV_CURVE_SECRET_KEY]
          --curve-server-key FILE  the coordinator's NAME.public
                                   [FASTKV_CURVE_SERVER_KEY]
          --authorized-keys FILE   keys admitted (coordinator, decode workers)
                                   [FASTKV_AUTHORIZED_KEYS]

        Without keys, the coordinator and decode workers bind loopback only, unless --insecure.
        """,
        subcommands: [KeysGenerateCommand.self])
}

struct KeysGenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write a new key pair: DIR/NAME.secret (0600) and DIR/NAME.public.")

    @Option(help: ArgumentHelp("Directory to write into (created if missing).", valueName: "dir"))
    var out: String
    @Option(help: "The key's name (A–Z a–z 0–9 - _ .), e.g. coordinator, prefill-0.")
    var name: String

    func run() throws {
        try runReportingErrors {
            let (secret, pub) = try CurveCredentials.generate(into: out, name: name)
            print("wrote \(secret) and \(pub)")
        }
    }
}
