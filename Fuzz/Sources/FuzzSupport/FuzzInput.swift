/// A cursor over one libFuzzer input: fixed-width reads and length-prefixed records, each returning
/// nil once the input runs out (a short input is a normal end, not an error).
///
/// Records let one input carry several messages, as a socket would deliver them:
/// `kind: u8, length: u16 little-endian, bytes[length]`. `RecordWriter` builds the same framing
/// for the seeds, so a seed is exactly what the harness reads back.
public struct FuzzInput {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var offset = 0

    public init(_ data: UnsafePointer<UInt8>, _ size: Int) {
        bytes = UnsafeRawBufferPointer(start: size == 0 ? nil : data, count: size)
    }

    public var remaining: Int { bytes.count - offset }

    public mutating func byte() -> UInt8? {
        guard remaining >= 1 else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func u16() -> UInt16? {
        guard remaining >= 2 else { return nil }
        defer { offset += 2 }
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    /// The next `count` bytes, lent from the input (valid for the current call only).
    public mutating func take(_ count: Int) -> UnsafeRawBufferPointer? {
        guard count >= 0, remaining >= count else { return nil }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + count])
    }

    /// Everything not read yet.
    public mutating func rest() -> UnsafeRawBufferPointer {
        take(remaining)!
    }

    /// The next record, or nil at the end (a record cut short by the end of the input is dropped).
    public mutating func record() -> (kind: UInt8, bytes: UnsafeRawBufferPointer)? {
        guard let kind = byte(), let length = u16(), let body = take(Int(length)) else { return nil }
        return (kind, body)
    }
}

/// Builds inputs in `FuzzInput`'s record framing (for seeds).
public struct RecordWriter {
    public private(set) var bytes: [UInt8] = []

    public init(prefix: [UInt8] = []) { bytes = prefix }

    public mutating func append(kind: UInt8, _ body: [UInt8]) {
        precondition(body.count <= Int(UInt16.max), "record of \(body.count) bytes does not fit a u16 length")
        bytes.append(kind)
        bytes.append(UInt8(body.count & 0xFF))
        bytes.append(UInt8(body.count >> 8))
        bytes.append(contentsOf: body)
    }
}
