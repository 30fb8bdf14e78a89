import Tensors
import Testing
import Wire

/// Hostile and broken input: every case must throw the specific `WireError`, never trap.
@Suite("Decoder rejects malformed input")
struct DecoderRejectionTests {
    static let layerFrames = [PayloadBuffer(copying: [UInt8](repeating: 1, count: 48)).wholeFrame,
                              PayloadBuffer(copying: [UInt8](repeating: 2, count: 48)).wholeFrame]

    /// KVLayer decode against the 2-layer, 2-head, head_dim 4, f16 geometry of `ProtoWriter.kvBegin()`.
    func decodeLayer(_ header: KVLayerHeader, frames: [PayloadSlice]) throws {
        var k = [Float](repeating: 0, count: header.entryCount * 4), v = k
        try k.withUnsafeMutableBufferPointer { kp in
            try v.withUnsafeMutableBufferPointer { vp in
                try KVLayerCodec.decode(header, frames: frames, kvHeads: 2, headDim: 4, dtype: .f16, keys: kp, values: vp)
            }
        }
    }

    func layerHeader(_ bytes: [UInt8]) throws -> KVLayerHeader {
        guard case .kvLayer(let h) = try Message.decode(bytes) else { throw WireError.missingBody }
        return h
    }

    /// Found by FuzzMessage: a Result whose TTFT decoded but could not be encoded again (the
    /// decoder allowed Int64.max µs, the encoder less), so a coordinator could not forward it.
    @Test("a duration decodes only if it encodes again (Timings.ttft_us at the bound and one past it)")
    func durationBoundsAgree() throws {
        func result(ttftMicros: UInt64) -> [UInt8] {
            ProtoWriter.envelope(bodyField: 20) { r in
                r.varint(1, 1)
                r.varint(4, 3)
                r.varint(5, 1)
                r.message(6) { t in t.varint(1, ttftMicros) }
                r.varint(9, 1)
                r.varint(10, 2)
            }
        }
        let bound = UInt64(Int64.max / 1_000_000 - 1) * 1_000_000 + 999_999
        let decoded = try Message.decode(result(ttftMicros: bound))
        #expect(try Message.decode(try decoded.encoded()) == decoded, "what decodes must re-encode")
        #expect(throws: WireError.self) { try Message.decode(result(ttftMicros: bound + 1)) }
        #expect(throws: WireError.self) { try Message.decode(result(ttftMicros: UInt64(Int64.max))) }
    }

    @Test("truncated envelope bytes")
    func truncated() throws {
        let bytes = try Message.kvBegin(Samples.kvBegin).encoded()
        #expect(throws: WireError.malformedEnvelope(byteCount: bytes.count - 1)) {
            try Message.decode(Array(bytes.dropLast()))
        }
        // Every prefix fails cleanly (some prefixes are well-formed protobuf missing later fields).
        for n in 0..<bytes.count {
            #expect(throws: WireError.self) { try Message.decode(Array(bytes.prefix(n))) }
        }
    }

    @Test("random bytes never trap")
    func randomBytes() {
        #expect(throws: WireError.malformedEnvelope(byteCount: 4)) { try Message.decode([0xFF, 0xFF, 0xFF, 0xFF]) }
        var g = SplitMix64(seed: 99)
        for _ in 0..<5000 {
            let bytes = (0..<Int.random(in: 0...96, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
            do { _ = try Message.decode(bytes) } catch {}   // typed throws: only WireError can get here
        }
    }

    @Test("mutated valid messages never trap")
    func mutations() throws {
        var g = SplitMix64(seed: 7)
        for message in Samples.all {
            let bytes = try message.encoded()
            for _ in 0..<300 {
                var m = bytes
                for _ in 0..<Int.random(in: 1...4, using: &g) {
                    m[Int.random(in: 0..<m.count, using: &g)] = UInt8.random(in: 0...255, using: &g)
                }
                do { _ = try Message.decode(m) } catch {}
            }
        }
    }

    @Test("wrong or missing protocol version")
    func protocolVersion() throws {
        let body: (inout ProtoWriter) -> Void = { c in c.varint(1, 5) }
        // Version 1 (float rates, a sentinel TSP layer) and any newer version are refused by name.
        for version: UInt32 in [1, 3] {
            #expect(throws: WireError.unsupportedProtocolVersion(found: version, supported: 2)) {
                try Message.decode(ProtoWriter.envelope(version: UInt64(version), bodyField: 15, body))
            }
        }
        #expect("\(WireError.unsupportedProtocolVersion(found: 1, supported: 2))".contains("protocol version 1 is not supported"))
        #expect(throws: WireError.unsupportedProtocolVersion(found: 0, supported: 2)) {
            try Message.decode(ProtoWriter.envelope(version: 0, bodyField: 15, body))
        }
        #expect(throws: WireError.unsupportedProtocolVersion(found: 0, supported: 2)) { try Message.decode([]) }
        #expect(try Message.decode(ProtoWriter.envelope(bodyField: 15, body)) == .cancel(Cancel(requestID: 5, reason: "")))
    }

    @Test("a body this build does not know (a newer peer)")
    func unknownBody() {
        #expect(throws: WireError.missingBody) { try Message.decode(ProtoWriter.envelope(bodyField: 99) { b in b.varint(1, 1) }) }
    }

    @Test("wrong KV format version")
    func formatVersion() {
        // Version 1 (one count per layer, shared by every head) is refused by name.
        #expect(throws: WireError.unsupportedFormatVersion(found: 1, supported: 2)) {
            try Message.decode(ProtoWriter.kvBegin(formatVersion: 1))
        }
    }

    @Test("frame count mismatch")
    func frameCount() throws {
        let header = try layerHeader(ProtoWriter.kvLayer(entryCount: 6, positions: [0, 1, 2, 0, 1, 2], frameBytes: [48, 48], kFrameCount: 1))
        #expect(throws: WireError.frameCountMismatch(expected: 2, found: 1)) {
            try decodeLayer(header, frames: [Self.layerFrames[0]])
        }
        #expect(throws: WireError.frameCountMismatch(expected: 2, found: 3)) {
            try decodeLayer(header, frames: Self.layerFrames + [Self.layerFrames[0]])
        }
        try decodeLayer(header, frames: Self.layerFrames)   // and the right count decodes
    }

    @Test("frame length mismatch")
    func frameLength() throws {
        let header = try layerHeader(ProtoWriter.kvLayer(entryCount: 6, positions: [0, 1, 2, 0, 1, 2], frameBytes: [48, 48], kFrameCount: 1))
        let short = PayloadBuffer(copying: [UInt8](repeating: 0, count: 46)).wholeFrame
        #expect(throws: WireError.frameLengthMismatch(frame: 1, expected: 48, found: 46)) {
            try decodeLayer(header, frames: [Self.layerFrames[0], short])
        }
        // Declared frames that do not add up to the tensor size.
        let lying = try layerHeader(ProtoWriter.kvLayer(entryCount: 6, positions: [0, 1, 2, 0, 1, 2], frameBytes: [40, 48], kFrameCount: 1))
        #expect(throws: WireError.countMismatch(field: "KVLayer.frame_bytes (K total)", expected: 48, found: 40)) {
            try decodeLayer(lying, frames: Self.layerFrames)
        }
        // A frame that splits an element.
        let odd = try layerHeader(ProtoWriter.kvLayer(entryCount: 6, positions: [0, 1, 2, 0, 1, 2], frameBytes: [47, 1, 48], kFrameCount: 2))
        #expect(throws: WireError.invalidValue(field: "KVLayer.frame_bytes[0]", value: "47 (not a positive multiple of 2)")) {
            try decodeLayer(odd, frames: Self.layerFrames)
        }
        // A frame declared larger than any sender may make it.
        #expect(throws: WireError.frameTooLarge(frame: 0, byteCount: 17 << 20, limit: 16 << 20)) {
            try Message.decode(ProtoWriter.kvLayer(entryCount: 0, positions: [], frameBytes: [17 << 20], kFrameCount: 1))
        }
    }

    @Test("entry count vs positions mismatch")
    func positionsCount() {
        #expect(throws: WireError.countMismatch(field: "KVLayer.positions", expected: 6, found: 2)) {
            try Message.decode(ProtoWriter.kvLayer(entryCount: 6, positions: [0, 1], frameBytes: [48, 48], kFrameCount: 1))
        }
    }

    @Test("per-head counts that do not add up to the layer's entry count, or too many heads")
    func headCounts() {
        #expect(throws: WireError.countMismatch(field: "KVLayer.entry_count (Σ head_entry_counts)", expected: 5, found: 6)) {
            try Message.decode(ProtoWriter.kvLayer(entryCount: 6, positions: [0, 1, 2, 0, 1, 2], frameBytes: [48, 48],
                                                   kFrameCount: 1, headEntryCounts: [4, 1]))
        }
        #expect(throws: WireError.valueOutOfRange(field: "KVLayer.head_entry_counts[]", value: 1 << 40, allowed: 0...(1 << 22))) {
            try Message.decode(ProtoWriter.kvLayer(entryCount: 6, positions: [], frameBytes: [], kFrameCount: 0,
                                                   headEntryCounts: [1 << 40, 6]))
        }
        #expect(throws: WireError.valueOutOfRange(field: "KVLayer.head_entry_counts (count)", value: 1025, allowed: 0...1024)) {
            try Message.decode(ProtoWriter.kvLayer(entryCount: 0, positions: [], frameBytes: [], kFrameCount: 0,
                                                   headEntryCounts: Array(repeating: 0, count: 1025)))
        }
    }

    @Test("layer index out of range")
    func layerIndex() throws {
        guard case .kvBegin(let begin) = try Message.decode(ProtoWriter.kvBegin()) else { Issue.record("not KVBegin"); return }
        var receiver = try KVTransferReceiver(begin: begin, localModel: begin.model)
        let header = try layerHeader(ProtoWriter.kvLayer(layerIndex: 2, entryCount: 6, positions: [0, 1, 2, 0, 1, 2],
                                                         frameBytes: [48, 48], kFrameCount: 1))
        #expect(throws: WireError.layerIndexOutOfRange(index: 2, layerCount: 2)) { try receiver.accept(header) }
        // Beyond any model: rejected by the decoder itself.
        #expect(throws: WireError.valueOutOfRange(field: "KVLayer.layer_index", value: 1 << 40, allowed: 0...1023)) {
            try Message.decode(ProtoWriter.kvLayer(layerIndex: 1 << 40, entryCount: 0, positions: [], frameBytes: [], kFrameCount: 0))
        }
    }

    @Test("unknown or missing dtype")
    func dtype() {
        #expect(throws: WireError.unknownEnumValue(field: "KVBegin.wire_dtype", value: 7)) {
            try Message.decode(ProtoWriter.kvBegin(dtype: 7))
        }
        #expect(throws: WireError.missingField("KVBegin.wire_dtype")) { try Message.decode(ProtoWriter.kvBegin(dtype: 0)) }
        // Negative int32 enum values arrive as 10-byte varints.
        #expect(throws: WireError.unknownEnumValue(field: "KVBegin.wire_dtype", value: -1)) {
            try Message.decode(ProtoWriter.kvBegin(dtype: UInt64.max))
        }
    }

    @Test("overflowing and out-of-bounds counts")
    func overflow() {
        // 2^40 entries in a layer: beyond the prompt length.
        #expect(throws: WireError.valueOutOfRange(field: "KVBegin.entry_counts[]", value: 1 << 40, allowed: 0...20)) {
            try Message.decode(ProtoWriter.kvBegin(entryCounts: [1 << 40, 3]))
        }
        #expect(throws: WireError.valueOutOfRange(field: "KVLayer.entry_count", value: 1 << 40, allowed: 0...(1 << 32))) {
            try Message.decode(ProtoWriter.kvLayer(entryCount: 1 << 40, positions: [], frameBytes: [], kFrameCount: 0,
                                                   headEntryCounts: [1, 2]))
        }
        #expect(throws: WireError.valueOutOfRange(field: "KVBegin.model.kv_heads", value: Int64(UInt32.max), allowed: 1...1024)) {
            try Message.decode(ProtoWriter.kvBegin(kvHeads: UInt64(UInt32.max)))
        }
        // A uint64 above Int64.max is reported (clamped), not wrapped negative.
        #expect(throws: WireError.valueOutOfRange(field: "KVBegin.prompt_length", value: .max, allowed: 1...(1 << 22))) {
            try Message.decode(ProtoWriter.kvBegin(promptLength: .max))
        }
        // With limits lifted, the size computation itself must catch the overflow.
        var open = WireLimits()
        open.maxKVHeads = .max; open.maxHeadDim = .max; open.maxPromptLength = .max
        #expect(throws: WireError.sizeOverflow("kv_heads 4294967296 × prompt_length 4294967296")) {
            try Message.decode(ProtoWriter.kvBegin(kvHeads: 1 << 32, headDim: 1 << 32, promptLength: 1 << 32,
                                                   entryCounts: [1 << 32, 0], payloadBytes: 0), limits: open)
        }
    }

    @Test("KVBegin internal consistency")
    func beginConsistency() {
        #expect(throws: WireError.countMismatch(field: "KVBegin.payload_bytes", expected: 96, found: 95)) {
            try Message.decode(ProtoWriter.kvBegin(payloadBytes: 95))
        }
        #expect(throws: WireError.countMismatch(field: "KVBegin.entry_counts", expected: 2, found: 3)) {
            try Message.decode(ProtoWriter.kvBegin(entryCounts: [1, 1, 1]))
        }
        #expect(throws: WireError.valueOutOfRange(field: "KVBegin.model.layer_count", value: 0, allowed: 1...1024)) {
            try Message.decode(ProtoWriter.kvBegin(layerCount: 0, entryCounts: []))
        }
    }

    @Test("required fields and ids")
    func requiredFields() {
        // Submit without a prompt, and with request id 0.
        #expect(throws: WireError.missingField("Submit.prompt")) {
            try Message.decode(ProtoWriter.envelope(bodyField: ProtoWriter.submitField) { s in s.varint(1, 5) })
        }
        #expect(throws: WireError.missingField("Submit.request_id")) {
            try Message.decode(ProtoWriter.envelope(bodyField: ProtoWriter.submitField) { s in s.lengthDelimited(2, Array("hi".utf8)) })
        }
        // A NaN temperature.
        #expect {
            try Message.decode(ProtoWriter.envelope(bodyField: ProtoWriter.submitField) { s in
                s.varint(1, 5)
                s.lengthDelimited(2, Array("hi".utf8))
                s.message(5) { m in
                    m.rawVarint(2 << 3 | 5)   // field 2, fixed32
                    m.bytes += withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { Array($0) }
                }
            })
        } throws: { error in
            guard case WireError.invalidValue(let field, let value) = error else { return false }
            return field == "Sampling.temperature" && value.contains("nan")
        }
        // A kv_rate outside (0, 1] is refused by the same rule as everywhere else.
        #expect {
            try Message.decode(ProtoWriter.envelope(bodyField: ProtoWriter.submitField) { s in
                s.varint(1, 5)
                s.lengthDelimited(2, Array("hi".utf8))
                s.message(6) { c in
                    c.varint(1, 2)   // FASTKV
                    c.rawVarint(10 << 3 | 1)   // field 10, fixed64
                    c.bytes += withUnsafeBytes(of: (1.5).bitPattern.littleEndian) { Array($0) }
                }
            })
        } throws: { error in
            guard case WireError.invalidValue(let field, let value) = error else { return false }
            return field == "Compression.kv_rate" && value.contains("--kv-rate")
        }
    }

    @Test("Register.kv_bytes_per_element: absent reads as f32's 4, 2 and 4 pass, anything else is refused both ways")
    func registerKVElementSize() throws {
        func register(_ bytesPerElement: UInt64?) -> [UInt8] {
            ProtoWriter.envelope(bodyField: 10) { r in
                r.varint(1, 7)   // worker_id
                r.varint(2, 3)   // ROLE_DECODE
                r.message(5) { m in
                    m.lengthDelimited(1, [1, 2, 3])
                    m.varint(2, 2)
                    m.varint(3, 1)
                    m.varint(4, 4)
                }
                if let bytesPerElement { r.varint(9, bytesPerElement) }
            }
        }
        func decoded(_ bytesPerElement: UInt64?) throws -> Int {
            guard case .register(let r) = try Message.decode(register(bytesPerElement)) else { throw WireError.missingBody }
            return r.kvBytesPerElement
        }
        #expect(try decoded(nil) == 4, "a worker from before the field holds f32 KV")
        #expect(try decoded(2) == 2)
        #expect(try decoded(4) == 4)
        for bad: UInt64 in [1, 3, 8, 1 << 31] {
            #expect {
                try decoded(bad)
            } throws: { error in
                guard case WireError.invalidValue(let field, _) = error else { return false }
                return field == "Register.kv_bytes_per_element"
            }
        }
        var r = Register(workerID: 1, role: .decode, controlEndpoint: "", model: Samples.model, kvCapacityBytes: 0,
                         maxSequences: 1, softwareVersion: "", kvBytesPerElement: 3)
        #expect(throws: WireError.self) { try Message.register(r).encoded() }
        r.kvBytesPerElement = 2
        #expect(try Message.decode(try Message.register(r).encoded()) == .register(r))
    }

    @Test("an envelope over the size limit is refused before parsing")
    func envelopeSize() {
        var limits = WireLimits()
        limits.maxEnvelopeBytes = 16
        #expect(throws: WireError.envelopeTooLarge(byteCount: 17, limit: 16)) {
            try Message.decode([UInt8](repeating: 0, count: 17), limits: limits)
        }
    }
}
