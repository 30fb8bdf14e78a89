/// The identity a ROUTER socket uses to address a peer (ZMQ_ROUTING_ID): the first frame of every
/// message a ROUTER receives, and the address of every message it sends.
public struct RoutingID: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// A routing id from a stable name (e.g. "decode-3"); ids starting with a 0 byte are reserved by libzmq.
    public init(_ name: String) { self.bytes = Array(name.utf8) }

    /// A routing id for a numeric worker id (8 bytes big-endian, first byte forced nonzero).
    public init(workerID: UInt64) {
        var b = withUnsafeBytes(of: workerID.bigEndian) { Array($0) }
        b.insert(0x57, at: 0)   // "W": libzmq reserves ids that start with a zero byte
        self.bytes = b
    }

    public var description: String {
        if bytes.allSatisfy({ (0x20..<0x7f).contains($0) }) { return "\"" + String(decoding: bytes, as: UTF8.self) + "\"" }
        return "0x" + bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}
