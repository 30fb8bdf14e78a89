/// A minimal protobuf writer for hand-crafting hostile messages: tests must be able to produce bytes
/// our own encoder refuses to (wrong versions, inconsistent counts, unknown enum values).
struct ProtoWriter {
    var bytes: [UInt8] = []

    mutating func rawVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Wire type 0.
    mutating func varint(_ field: Int, _ value: UInt64) {
        rawVarint(UInt64(field << 3))
        rawVarint(value)
    }

    /// Wire type 2 with the given content.
    mutating func lengthDelimited(_ field: Int, _ content: [UInt8]) {
        rawVarint(UInt64(field << 3 | 2))
        rawVarint(UInt64(content.count))
        bytes += content
    }

    mutating func message(_ field: Int, _ build: (inout ProtoWriter) -> Void) {
        var inner = ProtoWriter()
        build(&inner)
        lengthDelimited(field, inner.bytes)
    }

    /// A packed repeated varint field.
    mutating func packed(_ field: Int, _ values: [UInt64]) {
        var inner = ProtoWriter()
        for v in values { inner.rawVarint(v) }
        lengthDelimited(field, inner.bytes)
    }

    /// An `Envelope` with the given protocol version and one body field.
    static func envelope(version: UInt64 = 2, bodyField: Int, _ body: (inout ProtoWriter) -> Void) -> [UInt8] {
        var w = ProtoWriter()
        w.varint(1, version)
        w.message(bodyField, body)
        return w.bytes
    }

    // Field numbers from Proto/fastkv.proto.
    static let kvBeginField = 16, kvLayerField = 17, kvEndField = 18, submitField = 13

    /// A KVLayer envelope; every field settable.
    /// `entryCount` is the layer total; `headEntryCounts` defaults to an even split over 2 heads.
    static func kvLayer(requestID: UInt64 = 42, layerIndex: UInt64 = 0, entryCount: UInt64, positions: [UInt64],
                        frameBytes: [UInt64], kFrameCount: UInt64, headEntryCounts: [UInt64]? = nil) -> [UInt8] {
        envelope(bodyField: kvLayerField) { l in
            l.varint(1, requestID)
            l.varint(2, layerIndex)
            l.varint(3, entryCount)
            l.packed(4, positions)
            l.packed(5, frameBytes)
            l.varint(6, kFrameCount)
            l.packed(7, headEntryCounts ?? [entryCount / 2, entryCount - entryCount / 2])
        }
    }

    /// A KVBegin envelope (defaults describe a valid 2-layer f16 transfer).
    static func kvBegin(formatVersion: UInt64 = 2, layerCount: UInt64 = 2, kvHeads: UInt64 = 2, headDim: UInt64 = 4,
                        dtype: UInt64 = 1, promptLength: UInt64 = 10, entryCounts: [UInt64] = [3, 3],
                        payloadBytes: UInt64? = nil) -> [UInt8] {
        let payload = payloadBytes ?? entryCounts.reduce(0) { $0 + 2 * $1 * headDim * (dtype == 2 ? 4 : 2) }
        return envelope(bodyField: kvBeginField) { b in
            b.varint(1, 42)
            b.varint(2, formatVersion)
            b.message(3) { m in
                m.lengthDelimited(1, [1, 2, 3])
                m.varint(2, layerCount)
                m.varint(3, kvHeads)
                m.varint(4, headDim)
            }
            b.varint(4, dtype)
            b.varint(5, promptLength)
            b.packed(6, entryCounts)
            b.varint(7, payload)
            b.message(8) { s in s.varint(1, 16) }
            b.message(9) { c in
                c.varint(1, 2)   // FASTKV
                c.varint(9, 1)   // POOLING_MAX
            }
            b.varint(11, 7)
        }
    }
}
