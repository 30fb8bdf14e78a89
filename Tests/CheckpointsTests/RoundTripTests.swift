import Checkpoints
import Foundation
import Testing
import TestSupport

/// Write with TestSupport's reference encoders, read with the library, compare bits.
@Suite struct RoundTripTests {
    static let configs = [TinyLlama.defaultConfig, TinyLlama.gqa3Config]

    /// Every tensor of a GGUF in every element type dequantises to exactly what the reference quantiser's own
    /// decoder gives for the HF-order weights, and (row-wise encoding being row-independent) the raw bytes of
    /// the unpermuted Q/K equal the encoding of the HF-order rows.
    @Test(arguments: ElementType.allCases, configs)
    func ggufDequantizesExactly(type: ElementType, config: ModelConfig) throws {
        let dir = try TemporaryDirectory()
        let model = TinyLlama(config: config, seed: 7)
        let url = dir.file("tiny.gguf")
        try model.writeGGUF(to: url, matrixType: type)
        let ckpt = try GGUFCheckpoint(url: url)
        #expect(ckpt.config == config)
        #expect(ckpt.tensorNames == model.tensorNames)
        for name in model.tensorNames {
            let t = try ckpt.tensor(named: name)
            let values = model.weights[name]!
            let stored: ElementType = model.shapes[name]!.count == 2 ? type : .f32
            #expect(t.type == stored, "\(name)")
            #expect(t.shape == model.shapes[name]!, "\(name)")
            expectBitIdentical(try t.dequantized(), ReferenceQuantizer.roundTrip(values, as: stored), "\(name) as \(stored)")
            let sameBytes = t.withUnsafeBytes { Array($0) } == ReferenceQuantizer.encode(values, as: stored)
            #expect(sameBytes, "raw bytes of \(name) differ from the reference encoding of the HF rows")
        }
    }

    /// The same (pre-quantised) weights through GGUF (any type) and an f32 HF directory are bit-identical, for
    /// GQA shapes with 2 and 3 query heads per KV head and with tied embeddings.
    @Test(arguments: ElementType.allCases, configs)
    func ggufAndHFAgree(type: ElementType, config: ModelConfig) throws {
        let dir = try TemporaryDirectory()
        let model = TinyLlama(config: config, seed: 3).quantized(to: type)
        try model.writeGGUF(to: dir.file("m.gguf"), matrixType: type)
        try model.writeHF(to: dir.file("hf"))
        let g = try GGUFCheckpoint(url: dir.file("m.gguf"))
        let h = try HFCheckpoint(directory: dir.file("hf"))
        #expect(g.config == h.config)
        #expect(g.tensorNames == h.tensorNames)
        #expect(g.tensorNames.contains("lm_head.weight") == !config.tieWordEmbeddings)
        for name in g.tensorNames {
            expectBitIdentical(try g.tensor(named: name).dequantized(), try h.tensor(named: name).dequantized(), name)
        }
    }

    /// The TestSupport permutation is numpy's `reshape(n, 2, d/2, cols).swapaxes(1, 2)` (checked by hand on
    /// 2 heads × 4 rows), and the library undoes it.
    @Test func qkPermutationIsUndone() throws {
        let rows = 8, cols = 32
        let values = (0 ..< rows * cols).map { Float($0 / cols) }  // every element = its row index
        let permuted = GGUFWriter.permuteQK(values, rows: rows, cols: cols, headCount: 2)
        #expect(stride(from: 0, to: rows * cols, by: cols).map { permuted[$0] } == [0, 2, 1, 3, 4, 6, 5, 7])

        // Unpermuted on write → the reader would scramble rows: the broken file must not read back equal.
        let dir = try TemporaryDirectory()
        let model = TinyLlama(seed: 5)
        try model.ggufWriter(matrixType: .q8_0, permuteQK: false).write(to: dir.file("wrong.gguf"))
        let wrong = try GGUFCheckpoint(url: dir.file("wrong.gguf"))
        let q = "model.layers.0.self_attn.q_proj.weight"
        let scrambled = try wrong.tensor(named: q).dequantized() != ReferenceQuantizer.roundTrip(model.weights[q]!, as: .q8_0)
        #expect(scrambled, "an unpermuted file read back unchanged: the reader does not unpermute")
    }

    /// HF ↔ GGUF names agree between TestSupport and the library, in both directions; non-Llama GGUF tensors
    /// keep their GGUF name.
    @Test func tensorNameMapping() throws {
        let config = TinyLlama.gqa3Config
        let gguf = LlamaGGUFNames.ggufOrder(layerCount: config.layerCount, tied: false)
        #expect(gguf.count == 3 + 9 * config.layerCount)
        for name in gguf { #expect(LlamaGGUFNames.ggufName(forHF: LlamaGGUFNames.hfName(forGGUF: name)) == name) }
        #expect(LlamaGGUFNames.ggufName(forHF: "model.layers.12.mlp.down_proj.weight") == "blk.12.ffn_down.weight")

        var w = TinyLlama(config: config).ggufWriter()
        w.addTensor(name: "rope_freqs.weight", shape: [8], type: .f32, values: (0 ..< 8).map(Float.init))
        let dir = try TemporaryDirectory()
        try w.write(to: dir.file("m.gguf"))
        let g = try GGUFCheckpoint(url: dir.file("m.gguf"))
        let expected = (TinyLlama(config: config).tensorNames + ["rope_freqs.weight"]).sorted()
        #expect(g.tensorNames == expected)
        #expect(try g.tensor(named: "rope_freqs.weight").dequantized() == (0 ..< 8).map(Float.init))
    }

    /// Byte-packed files (GGUF alignment 1, safetensors with an odd-sized tensor first) still give tensors whose
    /// bytes start at a multiple of their element size, with the right values.
    @Test func misalignedTensorsAreRealigned() throws {
        let dir = try TemporaryDirectory()
        let model = TinyLlama(config: TinyLlama.gqa3Config, seed: 4)
        var w = model.ggufWriter(matrixType: .q4_1)
        w.alignment = 1
        w.set("pad", .string("xyz"))  // shift the data section to an odd offset
        try w.write(to: dir.file("packed.gguf"))
        let g = try GGUFCheckpoint(url: dir.file("packed.gguf"))
        #expect(g.file.alignment == 1)
        #expect(g.file.tensorInfos.contains { $0.offset % 4 != 0 && $0.ggmlType == 0 })
        for name in model.tensorNames {
            let t = try g.tensor(named: name)
            let address = t.withUnsafeBytes { Int(bitPattern: $0.baseAddress) }
            #expect(address % (t.type == .f32 ? 4 : 2) == 0, "\(name) at \(address)")
            let stored: ElementType = t.shape.count == 2 ? .q4_1 : .f32
            expectBitIdentical(try t.dequantized(), ReferenceQuantizer.roundTrip(model.weights[name]!, as: stored), name)
        }

        var st = SafetensorsWriter()
        st.add(name: "a", shape: [3], type: .f16, values: [1, 2, 3])
        st.add(name: "b", shape: [2, 3], type: .f32, values: [1.5, -2, 3, 4, 5, 6])
        try st.write(to: dir.file("packed.safetensors"))
        let f = try SafetensorsFile(url: dir.file("packed.safetensors"))
        #expect(f.tensors["b"]!.offset % 4 != 0)
        let b = try f.tensor(named: "b")
        #expect(b.withUnsafeBytes { Int(bitPattern: $0.baseAddress) } % 4 == 0)
        #expect(try b.dequantized() == [1.5, -2, 3, 4, 5, 6])
        #expect(try f.tensor(named: "a").dequantized() == [1, 2, 3])
    }

    /// f16 and bf16 safetensors decode to the reference conversions.
    @Test(arguments: [ElementType.f16, .bf16, .f32])
    func hfHalfPrecision(type: ElementType) throws {
        let dir = try TemporaryDirectory()
        let model = TinyLlama(seed: 11)
        try model.writeHF(to: dir.url, dtype: type)
        let h = try HFCheckpoint(directory: dir.url)
        for name in model.tensorNames {
            let t = try h.tensor(named: name)
            #expect(t.type == type)
            expectBitIdentical(try t.dequantized(), ReferenceQuantizer.roundTrip(model.weights[name]!, as: type), name)
        }
    }

    /// Special values survive f16/bf16 decoding: ±0, subnormals, ±inf, the extremes.
    @Test func halfPrecisionEdgeValues() throws {
        let edge: [Float] = [0, -0.0, 1, -2, 65504, -65504, 6.1035156e-05, 5.9604645e-08, 3.0e-7, .infinity, -.infinity,
                             Float(bitPattern: 0x0001_0000), 3.3895314e38, 0.1, 1.0 / 3, 1234.5]
        let values = (0 ..< 32).map { edge[$0 % edge.count] }
        let dir = try TemporaryDirectory()
        var w = SafetensorsWriter()
        w.add(name: "a", shape: [32], type: .f16, values: values)
        w.add(name: "b", shape: [2, 16], type: .bf16, values: values)
        try w.write(to: dir.file("x.safetensors"))
        let st = try SafetensorsFile(url: dir.file("x.safetensors"))
        #expect(st.tensors["a"]?.type == .f16)
        #expect(st.tensors["b"]?.shape == [2, 16])
        #expect(st.metadata == ["format": "pt"])
        for (name, type) in [("a", ElementType.f16), ("b", .bf16)] {
            let decoded = try st.tensor(named: name).dequantized()
            expectBitIdentical(decoded, ReferenceQuantizer.roundTrip(values, as: type), name)
        }
        // Spot checks independent of the reference converters.
        let half = try st.tensor(named: "a").dequantized()
        #expect(half[0].bitPattern == 0 && half[1].bitPattern == 0x8000_0000)
        #expect(half[4] == 65504 && half[7] == 0x1p-24 && half[9] == .infinity && half[10] == -.infinity)
        let brain = try st.tensor(named: "b").dequantized()
        #expect(brain[11] == Float(bitPattern: 0x0001_0000) && brain[2] == 1)
    }

    @Test func shardedHFDirectory() throws {
        let dir = try TemporaryDirectory()
        let model = TinyLlama(config: TinyLlama.gqa3Config, seed: 2)
        try model.writeHF(to: dir.url)
        try FileManager.default.removeItem(at: dir.file("model.safetensors"))
        var shards = [SafetensorsWriter(), SafetensorsWriter()]
        var map: [String: String] = [:]
        for (i, t) in model.tensorList.enumerated() {
            shards[i % 2].add(name: t.name, shape: t.shape, type: .bf16, values: t.values)
            map[t.name] = "model-0000\(i % 2 + 1)-of-00002.safetensors"
        }
        try shards[0].write(to: dir.file("model-00001-of-00002.safetensors"))
        try shards[1].write(to: dir.file("model-00002-of-00002.safetensors"))
        // Without an index: every *.safetensors.
        let plain = try HFCheckpoint(directory: dir.url)
        #expect(plain.files.count == 2)
        #expect(plain.tensorNames == model.tensorNames)
        // With an index.
        try HFDirectoryWriter.writeJSON(["metadata": [:] as [String: Any], "weight_map": map],
                                        to: dir.file("model.safetensors.index.json"))
        let indexed = try HFCheckpoint(directory: dir.url)
        #expect(indexed.tensorNames == model.tensorNames)
        for name in model.tensorNames {
            expectBitIdentical(try indexed.tensor(named: name).dequantized(),
                               ReferenceQuantizer.roundTrip(model.weights[name]!, as: .bf16), name)
        }
    }

    /// All metadata kinds, version 2, a non-default alignment.
    @Test(arguments: [(UInt32(3), 32), (UInt32(2), 64), (UInt32(3), 256)])
    func ggufMetadataAndAlignment(version: UInt32, alignment: Int) throws {
        let values: [String: GGUFValue] = [
            "u8": .uint8(200), "i8": .int8(-100), "u16": .uint16(60000), "i16": .int16(-30000),
            "u32": .uint32(4_000_000_000), "i32": .int32(-2_000_000_000), "u64": .uint64(1 << 63),
            "i64": .int64(-(1 << 62)), "f32": .float32(1.5e-5), "f64": .float64(-2.25e300), "t": .bool(true),
            "f": .bool(false), "s": .string("héllo 🌍"), "empty": .string(""),
            "strings": .array([.string("a"), .string(""), .string("Ġthe")]),
            "ints": .array([.int32(1), .int32(-2)]), "nested": .array([.array([.uint8(1)]), .array([.uint8(2), .uint8(3)])]),
            "none": .array([]),
        ]
        var w = GGUFWriter(alignment: alignment)
        w.version = version
        for key in values.keys.sorted() { w.set(key, values[key]!) }
        w.addTensor(name: "a", shape: [3], type: .f32, values: [1, 2, 3])
        w.addTensor(name: "b", shape: [2, 32], type: .q4_1, values: (0 ..< 64).map { Float($0) / 10 })
        w.addTensor(name: "c", shape: [5], type: .f16, values: [1, 2, 3, 4, 5])
        let dir = try TemporaryDirectory()
        let layout = try w.write(to: dir.file("m.gguf"))
        let f = try GGUFFile(url: dir.file("m.gguf"))
        #expect(f.version == version)
        #expect(f.alignment == alignment)
        for (key, value) in values { #expect(f.metadata[key] == value, "\(key)") }
        #expect(f.metadataKeys.filter { $0 != "general.alignment" } == values.keys.sorted())
        #expect(f.metadata["strings"]?.stringArray == ["a", "", "Ġthe"])
        #expect(f.metadata["ints"]?.intArray == [1, -2])
        #expect(f.metadata["u64"]?.intValue == nil)
        #expect(f.metadata["f32"]?.doubleValue == Double(Float(1.5e-5)))
        #expect(f.tensorInfos.map(\.name) == ["a", "b", "c"])
        #expect(f.tensorInfos[1].dimensions == [32, 2])
        #expect(f.tensorInfos[1].byteCount == 40)
        #expect(f.dataOffset == layout.dataOffset)
        for t in f.tensorInfos {
            #expect(t.offset % alignment == 0)
            #expect(t.offset == layout.tensorDataOffsets[t.name])
        }
    }

    @Test func ggufVocabularyAndDestinationSize() throws {
        let dir = try TemporaryDirectory()
        let config = TinyLlama.gqa3Config
        try TinyLlama(config: config).writeGGUF(to: dir.file("m.gguf"))
        let g = try GGUFCheckpoint(url: dir.file("m.gguf"))
        let expected = TinyVocabulary(size: config.vocabularySize)
        guard case let .gguf(v) = g.tokenizerSource else { Issue.record("not a GGUF vocabulary"); return }
        #expect(v.model == "gpt2")
        #expect(v.preTokenizer == "default")
        #expect(v.tokens == expected.tokens)
        #expect(v.tokenTypes == expected.tokenTypes)
        #expect(v.merges == expected.merges)
        #expect(v.bosTokenId == 1 && v.eosTokenId == 0 && v.eotTokenId == 2 && !v.addBOS)
        #expect(g.config.eosTokenIds == [0, 2])
        #expect(g.chatTemplate == nil)

        let t = try g.tensor(named: "model.norm.weight")
        var small = [Float](repeating: 0, count: t.elementCount - 1)
        #expect(throws: CheckpointError.destinationSizeMismatch(file: dir.file("m.gguf").path, tensor: "model.norm.weight",
                                                                expected: t.elementCount, found: t.elementCount - 1)) {
            try small.withUnsafeMutableBufferPointer { try t.dequantize(into: $0) }
        }
    }
}
