import CZMQ

/// A CURVE25519 key (public or secret): 32 bytes, written as 40 Z85 characters (ZeroMQ RFC 32).
///
/// Keys come from files and environment variables, so they are hostile text until parsed:
/// `init(z85:)` checks the length and the alphabet before libzmq's decoder sees a byte.
public struct CurveKey: Sendable, Hashable {
    public let bytes: [UInt8]

    /// The 85 characters of Z85, in value order.
    static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)

    public init(bytes: [UInt8]) throws(TransportError) {
        guard bytes.count == 32 else { throw .badKey("a CURVE key is 32 bytes, got \(bytes.count)") }
        self.bytes = bytes
    }

    /// Parses 40 Z85 characters.
    public init(z85 text: some StringProtocol) throws(TransportError) {
        let chars = Array(text.utf8)
        guard chars.count == 40 else {
            throw .badKey("a Z85 CURVE key is 40 characters, got \(chars.count)")
        }
        if let bad = chars.first(where: { !Self.alphabet.contains($0) }) {
            throw .badKey("'\(Character(Unicode.Scalar(bad)))' is not a Z85 character")
        }
        var out = [UInt8](repeating: 0, count: 32)
        let ok = (chars + [0]).withUnsafeBufferPointer { src in
            src.withMemoryRebound(to: CChar.self) { s in out.withUnsafeMutableBufferPointer { zmq_z85_decode($0.baseAddress, s.baseAddress) != nil } }
        }
        guard ok else { throw .badKey("not a valid Z85 key") }
        bytes = out
    }

    /// The key as 40 Z85 characters.
    public var z85: String {
        var out = [CChar](repeating: 0, count: 41)
        bytes.withUnsafeBufferPointer { b in _ = zmq_z85_encode(&out, b.baseAddress, 32) }
        return String(decoding: out.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A CURVE key pair: what a role holds (the secret stays in its file; the public key goes into
/// other roles' authorized-keys lists and `--curve-server-key`).
public struct CurveKeyPair: Sendable, Hashable {
    public let publicKey: CurveKey
    public let secretKey: CurveKey

    /// A pair from a secret key; the public key is derived (zmq_curve_public), so a key file whose
    /// public line disagrees with its secret is caught by comparing against this.
    public init(secretKey: CurveKey) throws(TransportError) {
        try Curve.requireAvailable()
        var pub = [CChar](repeating: 0, count: 41)
        let secret = secretKey.z85.utf8CString
        let rc = secret.withUnsafeBufferPointer { zmq_curve_public(&pub, $0.baseAddress) }
        guard rc == 0 else { throw ZMQContext.lastError("zmq_curve_public", endpoint: "key") }
        publicKey = try CurveKey(z85: String(decoding: pub.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        self.secretKey = secretKey
    }

    /// A fresh pair from libzmq's CSPRNG (libsodium).
    public static func generate() throws(TransportError) -> CurveKeyPair {
        try Curve.requireAvailable()
        var pub = [CChar](repeating: 0, count: 41), sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else { throw ZMQContext.lastError("zmq_curve_keypair", endpoint: "key") }
        func text(_ c: [CChar]) -> String { String(decoding: c.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        return try CurveKeyPair(secretKey: try CurveKey(z85: text(sec)))
    }
}

/// What libzmq was built with.
public enum Curve {
    /// zmq_has("curve"): libzmq was built with libsodium or tweetnacl (Debian's libzmq5 is).
    public static var isAvailable: Bool { zmq_has("curve") != 0 }

    static func requireAvailable() throws(TransportError) {
        guard isAvailable else {
            let v = ZMQContext.version
            throw .curveUnavailable("libzmq \(v.major).\(v.minor).\(v.patch) was built without CURVE (zmq_has(\"curve\") is false); install a libzmq built with libsodium (Debian: libzmq5) or run without keys on loopback")
        }
    }
}
