import Foundation

/// One entry of a GGUF tensor table, validated against the file.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The GGUF name (e.g. `blk.0.attn_q.weight`).
    public let name: String
    /// ggml `ne[]`: fastest-varying dimension first, so a matrix of `rows × cols` is `[cols, rows]`.
    public let dimensions: [Int]
    /// ggml type id (0 F32, 1 F16, 2 Q4_0, 3 Q4_1, 8 Q8_0, 30 BF16, …).
    public let ggmlType: UInt32
    /// Absolute offset of the first byte in the file (the data section start is already added).
    public let offset: Int
    /// Bytes the tensor occupies; `offset + byteCount <= file size` is guaranteed.
    public let byteCount: Int

    /// Product of the dimensions.
    public var elementCount: Int { dimensions.reduce(1, *) }
}

/// A memory-mapped GGUF file (v2 or v3) with its metadata parsed and its tensor table validated.
/// Layout (ggml `docs/gguf.md`): magic "GGUF", u32 version, u64 tensor count, u64 kv count, the key/value
/// pairs, the tensor infos, padding to `alignment`, then the tensor data. All integers are little-endian.
///
/// Everything read from the file is bounded before use: string and array lengths against the bytes left,
/// dimension products against overflow, each tensor's byte range against the file size. Port of the checks in
/// llama.cpp `ggml/src/gguf.cpp` (`gguf_init_from_file_impl`).
public final class GGUFFile: @unchecked Sendable {
    public let url: URL
    public let version: UInt32
    /// Data alignment (`general.alignment`, default 32). Every tensor offset is a multiple of it.
    public let alignment: Int
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// The tensor table in file order.
    public let tensorInfos: [GGUFTensorInfo]
    /// Absolute offset of the tensor data section.
    public let dataOffset: Int
    /// The mapped file; tensor bytes are `storage[info.offset ..< info.offset + info.byteCount]`.
    public let storage: ByteStorage

    static let magic: UInt32 = 0x4655_4747  // "GGUF" read as little-endian u32
    /// Deepest nesting of arrays accepted (real files use one level); bounds recursion on hostile input.
    static let maximumArrayDepth = 4
    static let maximumDimensionCount = 4  // GGML_MAX_DIMS

    /// Maps `url` read-only and parses header, metadata and tensor table. Throws `CheckpointError`.
    public init(url: URL) throws {
        self.url = url
        storage = try ByteStorage(mapping: url)
        let parsed = try storage.withUnsafeBytes { try Self.parse($0, file: url.path) }
        version = parsed.version
        alignment = parsed.alignment
        metadata = parsed.metadata
        metadataKeys = parsed.keys
        tensorInfos = parsed.tensors
        dataOffset = parsed.dataOffset
    }

    /// The info of the tensor named `name` (GGUF name), if any.
    public func tensorInfo(named name: String) -> GGUFTensorInfo? {
        tensorInfos.first { $0.name == name }
    }

    private struct Parsed {
        var version: UInt32
        var alignment: Int
        var metadata: [String: GGUFValue]
        var keys: [String]
        var tensors: [GGUFTensorInfo]
        var dataOffset: Int
    }

    private static func parse(_ bytes: UnsafeRawBufferPointer, file: String) throws -> Parsed {
        var r = ByteReader(bytes: bytes, file: file)
        let magic = try r.read(UInt32.self, "magic")
        guard magic == Self.magic else { throw CheckpointError.badMagic(file: file, found: magic) }
        let version = try r.read(UInt32.self, "version")
        guard version == 2 || version == 3 else { throw CheckpointError.unsupportedVersion(file: file, found: version) }
        // Smallest possible tensor info: name length (8) + n_dims (4) + type (4) + offset (8).
        let tensorCount = try r.readCount(minimumItemSize: 24, "tensor count")
        // Smallest possible key/value: key length (8) + type (4) + a one-byte value.
        let kvCount = try r.readCount(minimumItemSize: 13, "metadata count")

        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        keys.reserveCapacity(kvCount)
        for i in 0 ..< kvCount {
            let key = try r.readString("metadata key #\(i)")
            let type = try r.read(UInt32.self, "type of '\(key)'")
            let value = try readValue(&r, type: type, depth: 0, context: key)
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw CheckpointError.duplicateName(file: file, name: key)
            }
            keys.append(key)
        }

        var alignment = 32
        if let value = metadata["general.alignment"] {
            guard let a = value.intValue, a > 0, a & (a - 1) == 0, a <= 1 << 20 else {
                throw CheckpointError.invalidKey(file: file, key: "general.alignment",
                                                 expected: "a power of two", found: value.summary)
            }
            alignment = a
        }

        struct RawInfo { var name: String; var dims: [Int]; var type: GGMLType; var relativeOffset: UInt64; var bytes: Int }
        var raw: [RawInfo] = []
        raw.reserveCapacity(tensorCount)
        var seen = Set<String>()
        for i in 0 ..< tensorCount {
            let name = try r.readString("name of tensor #\(i)")
            guard seen.insert(name).inserted else { throw CheckpointError.duplicateName(file: file, name: name) }
            let dimsAt = r.offset
            let nDims = try r.read(UInt32.self, "dimension count of '\(name)'")
            guard nDims <= UInt32(maximumDimensionCount) else {
                throw CheckpointError.invalidLength(file: file, offset: dimsAt, length: UInt64(nDims),
                                                    limit: UInt64(maximumDimensionCount),
                                                    context: "dimension count of tensor '\(name)'")
            }
            var dims: [Int] = []
            var elements = 1
            for d in 0 ..< Int(nDims) {
                let at = r.offset
                let n = try r.read(UInt64.self, "dimension \(d) of '\(name)'")
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(clamping: n))
                guard n <= UInt64(Int.max), !overflow else {
                    throw CheckpointError.invalidLength(file: file, offset: at, length: n, limit: UInt64(Int.max),
                                                        context: "dimension \(d) of tensor '\(name)'")
                }
                dims.append(Int(n))
                elements = product
            }
            let typeId = try r.read(UInt32.self, "type of '\(name)'")
            guard let type = GGMLType(id: typeId) else {
                throw CheckpointError.unsupportedTensorType(file: file, tensor: name, type: GGMLType.describe(typeId))
            }
            let relativeOffset = try r.read(UInt64.self, "offset of '\(name)'")
            let rowLength = dims.first ?? 1
            guard rowLength % type.blockSize == 0 else {
                throw CheckpointError.invalidTensor(file: file, tensor: name,
                                                    expected: "rows of a multiple of \(type.blockSize) (\(type.name) blocks)",
                                                    found: "ne[0] = \(rowLength)")
            }
            let (bytes, overflow) = (elements / type.blockSize).multipliedReportingOverflow(by: type.bytesPerBlock)
            guard !overflow else {
                throw CheckpointError.invalidTensor(file: file, tensor: name, expected: "a byte size that fits in Int",
                                                    found: "dimensions \(dims)")
            }
            raw.append(RawInfo(name: name, dims: dims, type: type, relativeOffset: relativeOffset, bytes: bytes))
        }

        // The data section starts at the next multiple of the alignment after the tensor table.
        let dataOffset = (r.offset + alignment - 1) / alignment * alignment
        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(raw.count)
        for t in raw {
            guard t.relativeOffset % UInt64(alignment) == 0 else {
                throw CheckpointError.misalignedTensor(file: file, tensor: t.name, offset: t.relativeOffset,
                                                       alignment: alignment)
            }
            let (start, o1) = UInt64(dataOffset).addingReportingOverflow(t.relativeOffset)
            let (end, o2) = start.addingReportingOverflow(UInt64(t.bytes))
            guard !o1, !o2, end <= UInt64(bytes.count) else {
                throw CheckpointError.tensorOutOfBounds(file: file, tensor: t.name, start: start,
                                                        end: o1 || o2 ? UInt64.max : end, fileSize: bytes.count)
            }
            tensors.append(GGUFTensorInfo(name: t.name, dimensions: t.dims, ggmlType: t.type.id,
                                          offset: Int(start), byteCount: t.bytes))
        }
        return Parsed(version: version, alignment: alignment, metadata: metadata, keys: keys, tensors: tensors,
                      dataOffset: dataOffset)
    }

    /// Fixed size of a scalar value type, 8 as the minimum for a string (its length), 12 for an array
    /// (element type + count); nil for an unknown type tag.
    private static func minimumSize(ofType type: UInt32) -> Int? {
        switch type {
        case 0, 1, 7: return 1
        case 2, 3: return 2
        case 4, 5, 6: return 4
        case 10, 11, 12, 8: return 8
        case 9: return 12
        default: return nil
        }
    }

    private static func readValue(_ r: inout ByteReader, type: UInt32, depth: Int, context: String) throws -> GGUFValue {
        switch type {
        case 0: return .uint8(try r.read(UInt8.self, context))
        case 1: return .int8(try r.read(Int8.self, context))
        case 2: return .uint16(try r.read(UInt16.self, context))
        case 3: return .int16(try r.read(Int16.self, context))
        case 4: return .uint32(try r.read(UInt32.self, context))
        case 5: return .int32(try r.read(Int32.self, context))
        case 6: return .float32(try r.readFloat32(context))
        case 7:
            let at = r.offset
            let b = try r.read(UInt8.self, context)
            guard b <= 1 else {
                throw CheckpointError.invalidValue(file: r.file, offset: at, context: "bool '\(context)'", found: "byte \(b)")
            }
            return .bool(b == 1)
        case 8: return .string(try r.readString("string '\(context)'"))
        case 9:
            let at = r.offset
            let elementType = try r.read(UInt32.self, "element type of '\(context)'")
            guard let itemSize = minimumSize(ofType: elementType) else {
                throw CheckpointError.invalidValue(file: r.file, offset: at, context: "element type of array '\(context)'",
                                                   found: "type tag \(elementType)")
            }
            guard depth < maximumArrayDepth else {
                throw CheckpointError.invalidValue(file: r.file, offset: at, context: "array '\(context)'",
                                                   found: "nested deeper than \(maximumArrayDepth)")
            }
            let count = try r.readCount(minimumItemSize: itemSize, "array length of '\(context)'")
            var items: [GGUFValue] = []
            items.reserveCapacity(count)
            for _ in 0 ..< count {
                items.append(try readValue(&r, type: elementType, depth: depth + 1, context: context))
            }
            return .array(items)
        case 10: return .uint64(try r.read(UInt64.self, context))
        case 11: return .int64(try r.read(Int64.self, context))
        case 12: return .float64(try r.readFloat64(context))
        default:
            throw CheckpointError.invalidValue(file: r.file, offset: r.offset - 4, context: "type of '\(context)'",
                                               found: "type tag \(type)")
        }
    }
}
