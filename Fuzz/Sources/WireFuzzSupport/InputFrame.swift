import Wire

/// A payload frame lent from the fuzz input, as a received ZeroMQ frame would be: any length, no
/// alignment guarantee.
public struct InputFrame: PayloadFrame {
    public let bytes: UnsafeRawBufferPointer

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public var byteCount: Int { bytes.count }

    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(bytes)
    }
}

/// Record kinds of the KV targets' inputs (`FuzzInput.record()`): even = a header envelope, odd = a
/// payload frame belonging to the last KVLayer header.
public enum KVRecord {
    public static let envelope: UInt8 = 0
    public static let frame: UInt8 = 1

    public static func isEnvelope(_ kind: UInt8) -> Bool { kind & 1 == 0 }
}
