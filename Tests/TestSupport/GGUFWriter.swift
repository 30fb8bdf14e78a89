import Checkpoints
import Foundation

/// Builds GGUF v3 (or v2) files for tests: typed metadata in insertion order, tensors of any ggml type
/// (quantised from f32 for the supported `ElementType`s, or raw bytes for anything else), data aligned to
/// `alignment`. `serialize()` also returns where every structure landed, so tests can corrupt precise bytes.
public struct GGUFWriter {
    public struct Tensor {
        public var name: String
        /// ggml `ne[]`, fastest first (a `rows × cols` matrix is `[cols, rows]`).
        public var dimensions: [Int]
        public var ggmlType: UInt32
        public var data: [UInt8]
    }

    /// Where things are in the serialized file (all absolute byte offsets).
    public struct Layout {
        /// End of magic, version and the two counts (always 24).
        public var headerEnd = 0
        public var metadataEnd = 0
        public var tensorTableEnd = 0
        public var dataOffset = 0
        /// Offset of each metadata value's first byte (just after its type tag). For a string that is its
        /// u64 length; for an array, its u32 element type (the u64 count follows).
        public var metadataValueOffsets: [String: Int] = [:]
        /// Offset of each tensor-table entry (its name length).
        public var tensorInfoOffsets: [String: Int] = [:]
        /// Offset of each tensor's u32 type field, then u64 relative offset at +4.
        public var tensorTypeOffsets: [String: Int] = [:]
        /// Absolute offset of each tensor's data.
        public var tensorDataOffsets: [String: Int] = [:]
    }

    public var version: UInt32 = 3
    /// Data alignment used for padding; written as `general.alignment` when it is not the default 32.
    public var alignment: Int
    public private(set) var metadata: [(key: String, value: GGUFValue)] = []
    public private(set) var tensors: [Tensor] = []

    public init(alignment: Int = 32) {
        self.alignment = alignment
    }

    /// Sets `key` (replacing an earlier value in place).
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let i = metadata.firstIndex(where: { $0.key == key }) {
            metadata[i].value = value
        } else {
            metadata.append((key, value))
        }
    }

    public mutating func removeMetadata(_ key: String) {
        metadata.removeAll { $0.key == key }
    }

    /// Adds a tensor given in HF row-major `shape` (`[rows, cols]`) from f32 values, encoded as `type`
    /// with `ReferenceQuantizer` (GGUF stores the dimensions reversed).
    public mutating func addTensor(name: String, shape: [Int], type: ElementType, values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not match \(values.count) values")
        addRawTensor(name: name, dimensions: shape.reversed(), ggmlType: type.ggmlType,
                     data: ReferenceQuantizer.encode(values, as: type))
    }

    /// Adds a tensor with raw bytes and any ggml type id (e.g. 12 = Q4_K, to test rejection).
    public mutating func addRawTensor(name: String, dimensions: [Int], ggmlType: UInt32, data: [UInt8]) {
        removeTensor(named: name)
        tensors.append(Tensor(name: name, dimensions: dimensions, ggmlType: ggmlType, data: data))
    }

    public mutating func removeTensor(named name: String) {
        tensors.removeAll { $0.name == name }
    }

    /// The file bytes and their layout.
    public func serialize() -> (bytes: [UInt8], layout: Layout) {
        var out = ByteSink()
        var layout = Layout()
        var meta = metadata
        if alignment != 32, !meta.contains(where: { $0.key == "general.alignment" }) {
            meta.append(("general.alignment", .uint32(UInt32(alignment))))
        }
        out.bytes.append(contentsOf: Array("GGUF".utf8))
        out.u32(version)
        out.u64(UInt64(tensors.count))
        out.u64(UInt64(meta.count))
        layout.headerEnd = out.bytes.count
        for (key, value) in meta {
            out.string(key)
            out.u32(value.typeTag)
            layout.metadataValueOffsets[key] = out.bytes.count
            out.value(value)
        }
        layout.metadataEnd = out.bytes.count
        var relative = 0
        var relativeOffsets: [Int] = []
        for t in tensors {
            layout.tensorInfoOffsets[t.name] = out.bytes.count
            out.string(t.name)
            out.u32(UInt32(t.dimensions.count))
            for d in t.dimensions { out.u64(UInt64(d)) }
            layout.tensorTypeOffsets[t.name] = out.bytes.count
            out.u32(t.ggmlType)
            out.u64(UInt64(relative))
            relativeOffsets.append(relative)
            relative = Self.align(relative + t.data.count, alignment)
        }
        layout.tensorTableEnd = out.bytes.count
        out.pad(to: alignment)
        layout.dataOffset = out.bytes.count
        for (t, rel) in zip(tensors, relativeOffsets) {
            out.pad(toLength: layout.dataOffset + rel)
            layout.tensorDataOffsets[t.name] = out.bytes.count
            out.bytes.append(contentsOf: t.data)
        }
        out.pad(to: alignment)
        return (out.bytes, layout)
    }

    /// Writes the file and returns its layout.
    @discardableResult
    public func write(to url: URL) throws -> Layout {
        let (bytes, layout) = serialize()
        try Data(bytes).write(to: url)
        return layout
    }

    static func align(_ n: Int, _ alignment: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    /// llama.cpp's `permute(w, n_head)` from convert_hf_to_gguf.py, on a row-major `rows × cols` f32 matrix:
    /// `w.reshape(n_head, 2, rows/n_head/2, cols).swapaxes(1, 2).reshape(rows, cols)`.
    /// Output row `(h, i, s)` (i < d/2, s < 2, flattened) is input row `(h, s, i)`.
    public static func permuteQK(_ values: [Float], rows: Int, cols: Int, headCount: Int) -> [Float] {
        precondition(rows % (2 * headCount) == 0 && values.count == rows * cols)
        let half = rows / headCount / 2
        var out = [Float](repeating: 0, count: values.count)
        for h in 0 ..< headCount {
            for i in 0 ..< half {
                for s in 0 ..< 2 {
                    let outRow = (h * half + i) * 2 + s
                    let inRow = (h * 2 + s) * half + i
                    out[outRow * cols ..< (outRow + 1) * cols] = values[inRow * cols ..< (inRow + 1) * cols]
                }
            }
        }
        return out
    }
}

/// Little-endian GGUF encoding primitives.
struct ByteSink {
    var bytes: [UInt8] = []

    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func string(_ s: String) {
        u64(UInt64(s.utf8.count))
        bytes.append(contentsOf: Array(s.utf8))
    }
    mutating func pad(to alignment: Int) { pad(toLength: GGUFWriter.align(bytes.count, alignment)) }
    mutating func pad(toLength n: Int) { if bytes.count < n { bytes.append(contentsOf: repeatElement(0, count: n - bytes.count)) } }

    /// The value's payload (the caller wrote its type tag).
    mutating func value(_ v: GGUFValue) {
        func raw<T>(_ x: T) { withUnsafeBytes(of: x) { bytes.append(contentsOf: $0) } }
        switch v {
        case let .uint8(x): bytes.append(x)
        case let .int8(x): bytes.append(UInt8(bitPattern: x))
        case let .uint16(x): raw(x.littleEndian)
        case let .int16(x): raw(x.littleEndian)
        case let .uint32(x): u32(x)
        case let .int32(x): raw(x.littleEndian)
        case let .uint64(x): u64(x)
        case let .int64(x): raw(x.littleEndian)
        case let .float32(x): u32(x.bitPattern)
        case let .float64(x): u64(x.bitPattern)
        case let .bool(x): bytes.append(x ? 1 : 0)
        case let .string(s): string(s)
        case let .array(items):
            u32(items.first?.typeTag ?? 0)
            u64(UInt64(items.count))
            for item in items { value(item) }
        }
    }
}
