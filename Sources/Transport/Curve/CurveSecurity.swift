/// How a socket secures its links (SocketOptions.curve).
///
/// - `server`: accepts CURVE handshakes with this key pair, and asks the context's ZAP handler
///   (`ZAPAuthenticator`) about every client key; creating one without a running authenticator is
///   refused, because libzmq would then admit any key (its "Stonehouse" fallback).
/// - `client`: authenticates with its own pair and accepts only the server whose public key is
///   `serverKey` (a man in the middle fails the handshake).
public enum CurveSecurity: Sendable, Hashable {
    case server(CurveKeyPair)
    case client(CurveKeyPair, serverKey: CurveKey)
}

/// The authenticated sender of a message: the CURVE public key the ZAP handler admitted, read per
/// message from libzmq's "User-Id" property. Only messages on a CURVE server socket carry one.
public struct PeerIdentity: Sendable, Hashable, CustomStringConvertible {
    /// The public key, as 40 Z85 characters (ZAP sets it as the User-Id).
    public let publicKey: String

    public init(publicKey: String) { self.publicKey = publicKey }

    public var description: String { "key " + publicKey.prefix(8) + "…" }
}
