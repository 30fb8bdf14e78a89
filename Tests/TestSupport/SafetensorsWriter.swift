import Checkpoints
import Foundation

/// Builds `.safetensors` files for tests: u64 header length, a JSON header (keys sorted, padded with spaces to a
/// multiple of 8 like the reference writer), then the tensors back to back in header order.
public struct SafetensorsWriter {
    public struct Entry {
        public var name: String
        public var dtype: String
        public var shape: [Int]
        public var data: [UInt8]
        /// Offsets written to the header instead of the true ones (to test corrupt headers).
        public var dataOffsetsOverride: (Int, Int)?
    }

    public var metadata: [String: String]? = ["format": "pt"]
    public private(set) var entries: [Entry] = []

    public init() {}

    /// Adds an f32/f16/bf16 tensor in row-major `shape` from f32 values (f16/bf16 rounded to nearest even).
    public mutating func add(name: String, shape: [Int], type: ElementType, values: [Float]) {
        let dtype: String
        switch type {
        case .f32: dtype = "F32"
        case .f16: dtype = "F16"
        case .bf16: dtype = "BF16"
        default: preconditionFailure("safetensors has no \(type) dtype")
        }
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not match \(values.count) values")
        addRaw(name: name, dtype: dtype, shape: shape, data: ReferenceQuantizer.encode(values, as: type))
    }

    /// Adds any dtype string with raw bytes, optionally lying about `data_offsets`.
    public mutating func addRaw(name: String, dtype: String, shape: [Int], data: [UInt8], dataOffsets: (Int, Int)? = nil) {
        entries.removeAll { $0.name == name }
        entries.append(Entry(name: name, dtype: dtype, shape: shape, data: data, dataOffsetsOverride: dataOffsets))
    }

    /// The header JSON text (before padding).
    public func headerJSON() -> String {
        var parts: [String] = []
        if let metadata {
            let items = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            parts.append("\"__metadata__\":{\(items.joined(separator: ","))}")
        }
        var offset = 0
        for e in entries.sorted(by: { $0.name < $1.name }) {
            let (begin, end) = e.dataOffsetsOverride ?? (offset, offset + e.data.count)
            offset += e.data.count
            let shape = e.shape.map(String.init).joined(separator: ",")
            parts.append("\(jsonString(e.name)):{\"dtype\":\(jsonString(e.dtype)),\"shape\":[\(shape)],\"data_offsets\":[\(begin),\(end)]}")
        }
        return "{" + parts.joined(separator: ",") + "}"
    }

    /// The complete file.
    public func serialize() -> [UInt8] {
        var header = Array(headerJSON().utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for e in entries.sorted(by: { $0.name < $1.name }) { out.append(contentsOf: e.data) }
        return out
    }

    public func write(to url: URL) throws {
        try Data(serialize()).write(to: url)
    }
}

/// A JSON string literal for `s` (quotes, backslashes and control characters escaped).
func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 {
                out += String(format: "\\u%04x", u.value)
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}
