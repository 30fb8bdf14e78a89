import FastKVProto

/// Owns every C allocation made while building one protobuf-c message tree for packing.
///
/// protobuf-c messages are C structs full of pointers (submessages, repeated fields, strings). The
/// encoder allocates them here, packs, and the arena frees everything at once when it goes away, so
/// no pointer outlives the `encoded()` call and no path can leak.
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit {
        for block in blocks { block.deallocate() }
    }

    /// Uninitialized storage for `count` values of `T` (nil when `count` is 0).
    func allocate<T>(_: T.Type, count: Int) -> UnsafeMutablePointer<T>? {
        guard count > 0 else { return nil }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<T>.stride,
                                                   alignment: max(MemoryLayout<T>.alignment, 16))
        blocks.append(raw)
        return raw.bindMemory(to: T.self, capacity: count)
    }

    /// A protobuf-c message struct, initialized by its generated `…__init` function.
    func message<T>(_ initialize: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let p = allocate(T.self, count: 1)!
        initialize(p)
        return p
    }

    /// A copy of `values` for a repeated scalar field (nil when empty, as protobuf-c expects with n = 0).
    func array<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
        guard let p = allocate(T.self, count: values.count) else { return nil }
        _ = UnsafeMutableBufferPointer(start: p, count: values.count).initialize(from: values)
        return p
    }

    /// A NUL-terminated copy of `s`. Embedded NULs would truncate the string on the wire; the
    /// strings we send (endpoints, text, reasons) are UTF-8 text, where NUL does not occur in practice.
    func string(_ s: String) -> UnsafeMutablePointer<CChar> {
        let utf8 = Array(s.utf8)
        let p = allocate(CChar.self, count: utf8.count + 1)!
        for (i, byte) in utf8.enumerated() { p[i] = CChar(bitPattern: byte) }
        p[utf8.count] = 0
        return p
    }

    /// A `char **` array of copies of `strings` (nil when empty).
    func strings(_ strings: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
        array(strings.map { Optional(string($0)) })
    }

    /// A `ProtobufCBinaryData` over a copy of `bytes`.
    func binary(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        ProtobufCBinaryData(len: bytes.count, data: array(bytes))
    }
}
