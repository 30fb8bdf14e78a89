import Checkpoints
import Foundation
import Testing
import TestSupport

/// Hostile safetensors input.
@Suite struct SafetensorsErrorTests {
    static func file(_ dir: TemporaryDirectory, _ bytes: [UInt8]) throws -> URL {
        let url = dir.file("x.safetensors")
        try Data(bytes).write(to: url)
        return url
    }

    static func withHeader(_ json: String, data: [UInt8] = []) -> [UInt8] {
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { out.append(contentsOf: $0) }
        return out + Array(json.utf8) + data
    }

    @Test func headerLengthBeyondFile() throws {
        let dir = try TemporaryDirectory()
        var bytes = Self.withHeader("{}")
        bytes[0] = 200  // claims 200 header bytes, 2 present
        let url = try Self.file(dir, bytes)
        expectError(file: url, { try SafetensorsFile(url: url) }) {
            $0 == .invalidLength(file: url.path, offset: 0, length: 200, limit: 2, context: "safetensors header length")
        }
        let short = try Self.file(dir, [1, 2, 3])
        expectError(file: short, { try SafetensorsFile(url: short) }) { if case .truncated = $0 { true } else { false } }
        var huge = Self.withHeader("{}")
        for i in 0 ..< 8 { huge[i] = 0xFF }
        let hugeURL = try Self.file(dir, huge)
        expectError(file: hugeURL, { try SafetensorsFile(url: hugeURL) }) {
            if case .invalidLength(_, 0, UInt64.max, 2, _) = $0 { true } else { false }
        }
    }

    @Test(arguments: ["{not json", "[1, 2]", "", "{\"a\": {\"dtype\": \"F32\"", "\"string\""])
    func invalidJSON(header: String) throws {
        let dir = try TemporaryDirectory()
        let url = try Self.file(dir, Self.withHeader(header))
        expectError(file: url, { try SafetensorsFile(url: url) }) { if case .invalidJSON = $0 { true } else { false } }
    }

    @Test(arguments: ["I8", "U8", "F64", "I64", "BOOL", "F8_E4M3", "Q4"])
    func unsupportedDType(dtype: String) throws {
        let dir = try TemporaryDirectory()
        var w = SafetensorsWriter()
        w.add(name: "ok", shape: [2], type: .f32, values: [1, 2])
        w.addRaw(name: "w", dtype: dtype, shape: [4], data: [1, 2, 3, 4])
        let url = dir.file("x.safetensors")
        try w.write(to: url)
        expectError(file: url, { try SafetensorsFile(url: url) }) {
            $0 == .unsupportedTensorType(file: url.path, tensor: "w", type: dtype)
        }
    }

    @Test func dataOffsetsOutOfRange() throws {
        let dir = try TemporaryDirectory()
        var w = SafetensorsWriter()
        w.addRaw(name: "a", dtype: "F32", shape: [2], data: [UInt8](repeating: 0, count: 8), dataOffsets: (0, 16))
        let url = dir.file("x.safetensors")
        try w.write(to: url)
        expectError(file: url, { try SafetensorsFile(url: url) }) {
            guard case let .tensorOutOfBounds(_, "a", start, end, size) = $0 else { return false }
            return end - start == 16 && end > UInt64(size)
        }
        w.addRaw(name: "a", dtype: "F32", shape: [2], data: [UInt8](repeating: 0, count: 8), dataOffsets: (8, 0))
        try w.write(to: url)
        expectError(file: url, { try SafetensorsFile(url: url) }) { if case .tensorOutOfBounds = $0 { true } else { false } }
        w.addRaw(name: "a", dtype: "F32", shape: [2], data: [UInt8](repeating: 0, count: 8), dataOffsets: (0, 1 << 62))
        try w.write(to: url)
        expectError(file: url, { try SafetensorsFile(url: url) }) { if case .tensorOutOfBounds = $0 { true } else { false } }
    }

    @Test func dataOffsetsInconsistentWithShape() throws {
        let dir = try TemporaryDirectory()
        var w = SafetensorsWriter()
        w.addRaw(name: "a", dtype: "F16", shape: [3, 2], data: [UInt8](repeating: 0, count: 10))  // needs 12
        let url = dir.file("x.safetensors")
        try w.write(to: url)
        expectError(file: url, { try SafetensorsFile(url: url) }) {
            if case .invalidTensor(_, "a", _, _) = $0 { true } else { false }
        }
        // A shape whose element count overflows.
        w.addRaw(name: "a", dtype: "F32", shape: [1 << 40, 1 << 40], data: [])
        try w.write(to: url)
        expectError(file: url, { try SafetensorsFile(url: url) }) { if case .invalidValue = $0 { true } else { false } }
    }

    @Test(arguments: [
        #"{"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}"#,
        #"{"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}"#,
        #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}"#,
        #"{"a": {"dtype": 7, "shape": [1], "data_offsets": [0, 4]}}"#,
        #"{"a": [1, 2]}"#,
        #"{"__metadata__": [1], "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#,
    ])
    func malformedEntries(header: String) throws {
        let dir = try TemporaryDirectory()
        let url = try Self.file(dir, Self.withHeader(header, data: [0, 0, 0, 0]))
        expectError(file: url, { try SafetensorsFile(url: url) }) { if case .invalidValue = $0 { true } else { false } }
    }

    /// An HF directory whose weights are corrupt reports the safetensors file, not the directory.
    @Test func hfCheckpointReportsTheShard() throws {
        let dir = try TemporaryDirectory()
        try TinyLlama().writeHF(to: dir.url)
        let st = dir.file("model.safetensors")
        try Data(Self.withHeader("{oops")).write(to: st)
        expectError(file: st, { try HFCheckpoint(directory: dir.url) }) { if case .invalidJSON = $0 { true } else { false } }
    }
}
