/// A bounds-checked little-endian cursor over hostile bytes. Every read checks the remaining length first and
/// throws `CheckpointError.truncated` naming what was being read; every length read from the data is checked
/// against what remains before anything is allocated.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let file: String
    private(set) var offset: Int

    init(bytes: UnsafeRawBufferPointer, file: String, offset: Int = 0) {
        self.bytes = bytes
        self.file = file
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    mutating func require(_ byteCount: Int, _ context: @autoclosure () -> String) throws {
        guard byteCount <= remaining else {
            throw CheckpointError.truncated(file: file, offset: offset, needed: byteCount, available: remaining,
                                            context: context())
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ context: @autoclosure () -> String) throws -> T {
        try require(MemoryLayout<T>.size, context())
        let v = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }

    mutating func readFloat32(_ context: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, context()))
    }

    mutating func readFloat64(_ context: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, context()))
    }

    /// A count of items that each take at least `minimumItemSize` bytes; rejects counts that cannot fit in the
    /// remaining bytes (this is what stops a 2^62-element array from being allocated). Which error: a count whose
    /// items would fit in a plausible file (up to 4 GiB of metadata, or this file's size) means the file was cut
    /// short (`truncated`); a larger one is corrupt (`invalidLength`).
    mutating func readCount(minimumItemSize: Int, _ context: @autoclosure () -> String) throws -> Int {
        let at = offset
        let raw = try read(UInt64.self, context())
        let itemSize = UInt64(max(minimumItemSize, 1))
        let limit = UInt64(remaining) / itemSize
        guard raw <= limit else {
            let (needed, overflow) = raw.multipliedReportingOverflow(by: itemSize)
            if !overflow, needed <= max(UInt64(bytes.count), 1 << 32) {
                throw CheckpointError.truncated(file: file, offset: offset, needed: Int(needed), available: remaining,
                                                context: context())
            }
            throw CheckpointError.invalidLength(file: file, offset: at, length: raw, limit: limit, context: context())
        }
        return Int(raw)
    }

    /// A GGUF string: u64 byte length, then that many bytes of UTF-8 (no terminator).
    mutating func readString(_ context: @autoclosure () -> String) throws -> String {
        let at = offset
        let length = try readCount(minimumItemSize: 1, context() + " length")
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + length])
        guard let s = String(validating: slice, as: UTF8.self) else {
            throw CheckpointError.invalidValue(file: file, offset: at, context: context(), found: "invalid UTF-8")
        }
        offset += length
        return s
    }

    mutating func skip(to newOffset: Int, _ context: @autoclosure () -> String) throws {
        guard newOffset >= offset else { return }
        try require(newOffset - offset, context())
        offset = newOffset
    }
}
