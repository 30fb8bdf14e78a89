import Foundation

/// A memory-mapped `.safetensors` file with its header validated.
/// Layout (huggingface/safetensors README): u64 little-endian header length N, N bytes of JSON
/// `{"name": {"dtype": "F32", "shape": [r, c], "data_offsets": [begin, end]}, "__metadata__": {...}}`, then the
/// data section; offsets are relative to its start (byte 8 + N).
/// Only the float types a Llama checkpoint uses (F32, F16, BF16) are accepted; anything else is an error at open.
public final class SafetensorsFile: @unchecked Sendable {
    public struct TensorInfo: Sendable, Equatable {
        public let name: String
        public let type: ElementType
        /// Row-major shape, outermost first.
        public let shape: [Int]
        /// Absolute file offset of the first byte.
        public let offset: Int
        public let byteCount: Int
    }

    public let url: URL
    /// The optional `__metadata__` string map.
    public let metadata: [String: String]
    public let tensors: [String: TensorInfo]
    public let storage: ByteStorage

    /// Largest header accepted (the reference implementation's limit).
    static let maximumHeaderLength: UInt64 = 100_000_000

    public init(url: URL) throws {
        self.url = url
        let path = url.path
        storage = try ByteStorage(mapping: url)
        let (header, dataStart, fileSize): (Data, Int, Int) = try storage.withUnsafeBytes { bytes in
            var r = ByteReader(bytes: bytes, file: path)
            let length = try r.read(UInt64.self, "safetensors header length")
            let limit = min(UInt64(r.remaining), Self.maximumHeaderLength)
            guard length <= limit else {
                throw CheckpointError.invalidLength(file: path, offset: 0, length: length, limit: limit,
                                                    context: "safetensors header length")
            }
            let start = r.offset, end = start + Int(length)
            return (Data(bytes[start ..< end]), end, bytes.count)
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: header)
        } catch {
            throw CheckpointError.invalidJSON(file: path, reason: "safetensors header: \(error.localizedDescription)")
        }
        guard let root = object as? [String: Any] else {
            throw CheckpointError.invalidJSON(file: path, reason: "safetensors header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        var tensors: [String: TensorInfo] = [:]
        for (name, value) in root {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw CheckpointError.invalidValue(file: path, offset: nil, context: "__metadata__", found: "not an object")
                }
                for (k, v) in m { if let s = v as? String { metadata[k] = s } }
                continue
            }
            tensors[name] = try Self.parseEntry(name: name, value, dataStart: dataStart, fileSize: fileSize, file: path)
        }
        self.metadata = metadata
        self.tensors = tensors
    }

    /// The tensor as a zero-copy view of the mapping (realigned into a copy in the unusual case where its bytes
    /// do not start at a multiple of the element size; see `WeightTensor.view`).
    public func tensor(named name: String) throws -> WeightTensor {
        guard let info = tensors[name] else { throw CheckpointError.missingTensor(file: url.path, name: name) }
        return try WeightTensor.view(name: name, type: info.type, shape: info.shape, file: url.path, storage: storage,
                                     byteOffset: info.offset, byteCount: info.byteCount)
    }

    private static func parseEntry(name: String, _ value: Any, dataStart: Int, fileSize: Int, file: String) throws -> TensorInfo {
        func bad(_ what: String, _ found: Any?) -> CheckpointError {
            .invalidValue(file: file, offset: nil, context: "\(what) of tensor '\(name)'", found: found.map { "\($0)" } ?? "nothing")
        }
        guard let entry = value as? [String: Any] else { throw bad("entry", value) }
        guard let dtype = entry["dtype"] as? String else { throw bad("dtype", entry["dtype"]) }
        let type: ElementType
        switch dtype {
        case "F32": type = .f32
        case "F16": type = .f16
        case "BF16": type = .bf16
        default: throw CheckpointError.unsupportedTensorType(file: file, tensor: name, type: dtype)
        }
        guard let shape = nonNegativeInts(entry["shape"]) else { throw bad("shape", entry["shape"]) }
        guard let offsets = nonNegativeInts(entry["data_offsets"]), offsets.count == 2 else {
            throw bad("data_offsets", entry["data_offsets"])
        }
        let dataSize = fileSize - dataStart
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end, end <= dataSize else {
            throw CheckpointError.tensorOutOfBounds(file: file, tensor: name, start: UInt64(dataStart) + UInt64(begin),
                                                    end: UInt64(dataStart) + UInt64(end), fileSize: fileSize)
        }
        var elements = 1
        for d in shape {
            let (p, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow else { throw bad("shape (size overflows)", shape) }
            elements = p
        }
        guard let bytes = type.byteCount(elementCount: elements), bytes == end - begin else {
            throw CheckpointError.invalidTensor(file: file, tensor: name,
                                                expected: "\(elements) × \(type.bytesPerBlock) bytes for \(dtype) shape \(shape)",
                                                found: "data_offsets [\(begin), \(end)] = \(end - begin) bytes")
        }
        return TensorInfo(name: name, type: type, shape: shape, offset: dataStart + begin, byteCount: bytes)
    }

    /// A JSON array of integers ≥ 0, or nil.
    private static func nonNegativeInts(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var out: [Int] = []
        out.reserveCapacity(array.count)
        for item in array {
            guard let i = JSONObject.integer(item), i >= 0 else { return nil }
            out.append(i)
        }
        return out
    }
}
