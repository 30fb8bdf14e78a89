/// Where a reply goes: a client or a worker, as the front end that received its message knows it.
///
/// The scheduler never looks inside. The ZeroMQ loop stores a ROUTER routing id here
/// (`Coordinator`); an HTTP front end can store its connection's id. Keeping it opaque bytes rather
/// than `Transport.RoutingID` is what lets the scheduler live without a socket library.
public struct PeerAddress: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// An address from a readable name (tests, logs).
    public init(_ name: String) { self.bytes = Array(name.utf8) }

    public var description: String {
        if !bytes.isEmpty, bytes.allSatisfy({ (0x20..<0x7f).contains($0) }) {
            return "\"" + String(decoding: bytes, as: UTF8.self) + "\""
        }
        let digits = Array("0123456789abcdef")
        return "0x" + String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
    }
}
