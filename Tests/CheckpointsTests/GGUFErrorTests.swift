import Checkpoints
import Foundation
import Testing
import TestSupport

/// Hostile GGUF input: every failure is a specific `CheckpointError` whose one-line message names the file.
@Suite struct GGUFErrorTests {
    /// A valid tiny model plus its layout, written to `dir/name`.
    static func validFile(in dir: TemporaryDirectory, _ name: String = "m.gguf",
                          edit: (inout GGUFWriter) -> Void = { _ in }) throws -> (URL, [UInt8], GGUFWriter.Layout) {
        var w = TinyLlama(seed: 9).ggufWriter(matrixType: .q4_1)
        edit(&w)
        let (bytes, layout) = w.serialize()
        let url = dir.file(name)
        try Data(bytes).write(to: url)
        return (url, bytes, layout)
    }

    static func write(_ bytes: [UInt8], to url: URL) throws { try Data(bytes).write(to: url) }

    static func patch<T: FixedWidthInteger>(_ bytes: inout [UInt8], at offset: Int, _ value: T) {
        withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { bytes[offset + i] = b } }
    }

    @Test func validFileOpens() throws {
        let dir = try TemporaryDirectory()
        let (url, _, _) = try Self.validFile(in: dir)
        #expect(try GGUFCheckpoint(url: url).tensorNames.count == TinyLlama(seed: 9).tensorNames.count)
    }

    @Test func badMagic() throws {
        let dir = try TemporaryDirectory()
        let (url, original, _) = try Self.validFile(in: dir)
        var bytes = original
        bytes[3] = UInt8(ascii: "X")
        try Self.write(bytes, to: url)
        expectError(file: url, { try GGUFFile(url: url) }) { $0 == .badMagic(file: url.path, found: 0x5855_4747) }
        expectError(file: url, { try GGUFCheckpoint(url: url) }) { if case .badMagic = $0 { true } else { false } }
    }

    @Test(arguments: [UInt32(1), 4, 0xFFFF_FFFF])
    func unsupportedVersion(version: UInt32) throws {
        let dir = try TemporaryDirectory()
        let (url, original, _) = try Self.validFile(in: dir)
        var bytes = original
        Self.patch(&bytes, at: 4, version)
        try Self.write(bytes, to: url)
        expectError(file: url, { try GGUFFile(url: url) }) { $0 == .unsupportedVersion(file: url.path, found: version) }
    }

    @Test func emptyFile() throws {
        let dir = try TemporaryDirectory()
        let url = dir.file("empty.gguf")
        try Self.write([], to: url)
        expectError(file: url, { try GGUFFile(url: url) }) {
            $0 == .truncated(file: url.path, offset: 0, needed: 4, available: 0, context: "magic")
        }
    }

    /// Cut inside the header, the metadata (in the middle of the token list), the tensor table and the data.
    @Test func truncatedAtEveryStructure() throws {
        let dir = try TemporaryDirectory()
        let (_, bytes, layout) = try Self.validFile(in: dir)
        let tokens = layout.metadataValueOffsets["tokenizer.ggml.tokens"]!
        let cuts: [(String, Int)] = [
            ("header", 13), ("header end", layout.headerEnd - 1), ("first key", layout.headerEnd + 3),
            ("metadata", tokens + 40), ("metadata end", layout.metadataEnd - 1),
            ("tensor table", layout.tensorInfoOffsets["blk.0.attn_q.weight"]! + 5),
            ("tensor table end", layout.tensorTableEnd - 2),
        ]
        for (_, cut) in cuts {
            let url = dir.file("cut-\(cut).gguf")
            try Self.write(Array(bytes[..<cut]), to: url)
            expectError(file: url, { try GGUFFile(url: url) }) {
                guard case let .truncated(_, offset, needed, available, _) = $0 else { return false }
                return offset <= cut && needed > available && available == cut - offset
            }
        }
        // In the data: the last tensor no longer fits.
        for cut in [bytes.count - 1, layout.dataOffset + 1, layout.tensorDataOffsets["output.weight"]! + 10] {
            let url = dir.file("data-\(cut).gguf")
            try Self.write(Array(bytes[..<cut]), to: url)
            expectError(file: url, { try GGUFFile(url: url) }) {
                guard case let .tensorOutOfBounds(_, _, start, end, fileSize) = $0 else { return false }
                return fileSize == cut && end > UInt64(cut) && start < end
            }
        }
    }

    /// A string length, an array length and a tensor count of 2^62: rejected before any allocation.
    @Test func absurdLengths() throws {
        let dir = try TemporaryDirectory()
        let (url, bytes, layout) = try Self.validFile(in: dir)
        let huge: UInt64 = 1 << 62

        var s = bytes
        Self.patch(&s, at: layout.metadataValueOffsets["general.architecture"]!, huge)
        try Self.write(s, to: url)
        expectError(file: url, { try GGUFFile(url: url) }) {
            guard case let .invalidLength(_, _, length, limit, context) = $0 else { return false }
            return length == huge && limit < UInt64(bytes.count) && context.contains("general.architecture")
        }

        var a = bytes
        Self.patch(&a, at: layout.metadataValueOffsets["tokenizer.ggml.tokens"]! + 4, huge)
        try Self.write(a, to: url)
        expectError(file: url, { try GGUFFile(url: url) }) {
            guard case let .invalidLength(_, _, length, _, context) = $0 else { return false }
            return length == huge && context.contains("tokenizer.ggml.tokens")
        }

        var key = bytes
        Self.patch(&key, at: layout.headerEnd, UInt64.max)  // first key's length
        try Self.write(key, to: url)
        expectError(file: url, { try GGUFFile(url: url) }) {
            if case .invalidLength(_, _, UInt64.max, _, _) = $0 { true } else { false }
        }

        var count = bytes
        Self.patch(&count, at: 8, huge)  // tensor count
        try Self.write(count, to: url)
        expectError(file: url, { try GGUFFile(url: url) }) {
            if case .invalidLength(_, 8, huge, _, "tensor count") = $0 { true } else { false }
        }

        var dim = bytes
        let name = "blk.0.attn_q.weight"
        Self.patch(&dim, at: layout.tensorInfoOffsets[name]! + 8 + name.utf8.count + 4 + 8, UInt64.max)  // ne[1]
        try Self.write(dim, to: url)
        expectError(file: url, { try GGUFFile(url: url) }) {
            if case .invalidLength(_, _, UInt64.max, _, _) = $0 { true } else { false }
        }
    }

    @Test func unsupportedTensorTypes() throws {
        let dir = try TemporaryDirectory()
        // Q4_K needs 256-wide rows: use the wide model and replace its Q projection.
        var w = TinyLlama(config: TinyLlama.wideConfig).ggufWriter(matrixType: .q8_0)
        w.addRawTensor(name: "blk.0.attn_q.weight", dimensions: [256, 256], ggmlType: 12,
                       data: [UInt8](repeating: 0, count: 256 * 144))
        let url = dir.file("q4k.gguf")
        try w.write(to: url)
        #expect(try GGUFFile(url: url).tensorInfo(named: "blk.0.attn_q.weight")?.byteCount == 256 * 144)
        expectError(file: url, { try GGUFCheckpoint(url: url) }) {
            $0 == .unsupportedTensorType(file: url.path, tensor: "blk.0.attn_q.weight", type: "Q4_K (12)")
        }
        #expect(checkpointError({ try GGUFCheckpoint(url: url) })?.description.contains("Q4_K") == true)

        // A type id ggml does not define at all is caught by the file reader.
        let (unknownURL, original, layout) = try Self.validFile(in: dir, "unknown.gguf")
        var bytes = original
        Self.patch(&bytes, at: layout.tensorTypeOffsets["blk.1.ffn_up.weight"]!, UInt32(99))
        try Self.write(bytes, to: unknownURL)
        expectError(file: unknownURL, { try GGUFFile(url: unknownURL) }) {
            $0 == .unsupportedTensorType(file: unknownURL.path, tensor: "blk.1.ffn_up.weight", type: "type 99")
        }
    }

    @Test func nonLlamaArchitecture() throws {
        let dir = try TemporaryDirectory()
        let (url, _, _) = try Self.validFile(in: dir) { $0.set("general.architecture", .string("gemma3")) }
        expectError(file: url, { try GGUFCheckpoint(url: url) }) { $0 == .unsupportedArchitecture(file: url.path, found: "gemma3") }
        let (url2, _, _) = try Self.validFile(in: dir, "noarch.gguf") { $0.removeMetadata("general.architecture") }
        expectError(file: url2, { try GGUFCheckpoint(url: url2) }) { $0 == .missingKey(file: url2.path, key: "general.architecture") }
    }

    @Test(arguments: ["llama.block_count", "llama.embedding_length", "llama.attention.head_count",
                      "llama.feed_forward_length", "llama.context_length", "llama.attention.layer_norm_rms_epsilon"])
    func missingRequiredKey(key: String) throws {
        let dir = try TemporaryDirectory()
        let (url, _, _) = try Self.validFile(in: dir) { $0.removeMetadata(key) }
        expectError(file: url, { try GGUFCheckpoint(url: url) }) { $0 == .missingKey(file: url.path, key: key) }
    }

    @Test func wrongMetadataTypesAndValues() throws {
        let dir = try TemporaryDirectory()
        let (url, _, _) = try Self.validFile(in: dir) { $0.set("llama.block_count", .string("two")) }
        expectError(file: url, { try GGUFCheckpoint(url: url) }) {
            if case .invalidKey(_, "llama.block_count", _, _) = $0 { true } else { false }
        }
        let (url2, _, _) = try Self.validFile(in: dir, "kv.gguf") { $0.set("llama.attention.head_count_kv", .uint32(3)) }
        expectError(file: url2, { try GGUFCheckpoint(url: url2) }) {
            if case .invalidKey(_, "kvHeadCount", _, "3") = $0 { true } else { false }
        }
        let (url3, _, _) = try Self.validFile(in: dir, "align.gguf") { $0.set("general.alignment", .uint32(48)) }
        expectError(file: url3, { try GGUFFile(url: url3) }) {
            if case .invalidKey(_, "general.alignment", _, _) = $0 { true } else { false }
        }
        let (url4, _, _) = try Self.validFile(in: dir, "rope.gguf") { $0.set("llama.rope.scaling.type", .string("yarn")) }
        expectError(file: url4, { try GGUFCheckpoint(url: url4) }) { $0 == .unsupportedRopeType(file: url4.path, found: "yarn") }
    }

    @Test func malformedValues() throws {
        let dir = try TemporaryDirectory()
        let (url, bytes, layout) = try Self.validFile(in: dir) { $0.set("flag", .bool(true)) }
        var b = bytes
        b[layout.metadataValueOffsets["flag"]!] = 2
        try Self.write(b, to: url)
        expectError(file: url, { try GGUFFile(url: url) }) { if case .invalidValue(_, _, _, "byte 2") = $0 { true } else { false } }

        var t = bytes
        Self.patch(&t, at: layout.metadataValueOffsets["flag"]! - 4, UInt32(13))  // unknown type tag
        try Self.write(t, to: url)
        expectError(file: url, { try GGUFFile(url: url) }) { if case .invalidValue(_, _, _, "type tag 13") = $0 { true } else { false } }

        var u = bytes
        u[layout.metadataValueOffsets["general.architecture"]! + 8] = 0xFF  // 'l' of "llama" → invalid UTF-8
        try Self.write(u, to: url)
        expectError(file: url, { try GGUFFile(url: url) }) { if case .invalidValue(_, _, _, "invalid UTF-8") = $0 { true } else { false } }
    }

    @Test func duplicateNames() throws {
        let dir = try TemporaryDirectory()
        let (url, bytes, layout) = try Self.validFile(in: dir)
        // Rename blk.0.attn_v → blk.0.attn_k (same length: "attn_v" vs "attn_k").
        var b = bytes
        let at = layout.tensorInfoOffsets["blk.0.attn_v.weight"]! + 8 + "blk.0.attn_".utf8.count
        b[at] = UInt8(ascii: "k")
        try Self.write(b, to: url)
        expectError(file: url, { try GGUFFile(url: url) }) { $0 == .duplicateName(file: url.path, name: "blk.0.attn_k.weight") }
    }

    @Test func tensorDataOutsideFileAndMisaligned() throws {
        let dir = try TemporaryDirectory()
        let (url, bytes, layout) = try Self.validFile(in: dir)
        let name = "blk.0.ffn_down.weight"
        let offsetField = layout.tensorTypeOffsets[name]! + 4

        var far = bytes
        Self.patch(&far, at: offsetField, UInt64(bytes.count))  // aligned (file length is padded) but past the end
        try Self.write(far, to: url)
        expectError(file: url, { try GGUFFile(url: url) }) {
            guard case let .tensorOutOfBounds(_, tensor, start, _, size) = $0 else { return false }
            return tensor == name && size == bytes.count && start == UInt64(layout.dataOffset + bytes.count)
        }

        var overflow = bytes
        Self.patch(&overflow, at: offsetField, UInt64.max - 31)  // aligned; start + size overflows
        try Self.write(overflow, to: url)
        expectError(file: url, { try GGUFFile(url: url) }) {
            if case .tensorOutOfBounds(_, name, _, UInt64.max, _) = $0 { true } else { false }
        }

        var misaligned = bytes
        let relative = UInt64(layout.tensorDataOffsets[name]! - layout.dataOffset)
        Self.patch(&misaligned, at: offsetField, relative + 1)
        try Self.write(misaligned, to: url)
        expectError(file: url, { try GGUFFile(url: url) }) {
            $0 == .misalignedTensor(file: url.path, tensor: name, offset: relative + 1, alignment: 32)
        }
    }

    @Test func shapeInconsistentWithConfig() throws {
        let dir = try TemporaryDirectory()
        let (url, _, _) = try Self.validFile(in: dir) { $0.set("llama.feed_forward_length", .uint32(128)) }
        expectError(file: url, { try GGUFCheckpoint(url: url) }) {
            if case .invalidTensor(_, "model.layers.0.mlp.down_proj.weight", _, _) = $0 { true } else { false }
        }
        let (url2, _, _) = try Self.validFile(in: dir, "nonorm.gguf") { $0.removeTensor(named: "blk.1.ffn_norm.weight") }
        expectError(file: url2, { try GGUFCheckpoint(url: url2) }) {
            $0 == .missingTensor(file: url2.path, name: "model.layers.1.post_attention_layernorm.weight")
        }
        // Rows not a whole number of blocks.
        let (url3, _, _) = try Self.validFile(in: dir, "rows.gguf") {
            $0.addRawTensor(name: "extra", dimensions: [16, 2], ggmlType: 8, data: [UInt8](repeating: 0, count: 34))
        }
        expectError(file: url3, { try GGUFFile(url: url3) }) { if case .invalidTensor(_, "extra", _, _) = $0 { true } else { false } }
    }
}
