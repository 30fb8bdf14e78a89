import Tensors
import RequestVocabulary
import Testing
import Wire

@Suite("KV transfer: encoder → receiver")
struct KVTransferTests {
    static let model = ModelShape(fingerprint: [0xAB, 0xCD], layerCount: 4, kvHeads: 2, headDim: 8)

    /// Per-layer head splits of the default transfer: ragged (AdaKV-like), one empty head, one empty layer.
    static let headSplits = [[4, 1], [0, 0], [3, 0], [2, 3]]

    /// entryCounts are layer totals over the 2 KV heads.
    static func begin(dtype: WireDType = .f16, entryCounts: [Int] = [5, 0, 3, 5]) -> KVBegin {
        KVBegin(requestID: 77, model: model, wireDType: dtype, promptLength: 6, entryCounts: entryCounts,
                sampling: try! SamplingParameters(maxTokens: 4), compression: try! CompressionConfig(method: .snapKV, kvBudget: 5),
                deadlineUnixMillis: nil, prefillWorkerID: 3)
    }

    /// Encodes every layer (out of order, as a pipelined sender might), decodes on the other side.
    @Test("full ragged transfer round trip; wire bytes = formula + envelope bytes", arguments: WireDType.allCases)
    func fullTransfer(dtype: WireDType) throws {
        let begin = Self.begin(dtype: dtype)
        var sender = try KVTransferEncoder(begin: begin, maxFrameBytes: 64)
        let beginBytes = try sender.encodeBegin()
        guard case .kvBegin(let receivedBegin) = try Message.decode(beginBytes) else { Issue.record("not KVBegin"); return }
        #expect(receivedBegin == begin)
        var receiver = try KVTransferReceiver(begin: receivedBegin, localModel: Self.model)
        #expect(receiver.expectedPayloadBytes == (try begin.payloadBytes()))

        for layer in [2, 0, 3, 1] {
            let count = begin.entryCounts[layer], split = Self.headSplits[layer]
            let n = count * 8
            let k = TestFloats.floats(n, seed: UInt64(layer)), v = TestFloats.floats(n, seed: UInt64(layer + 100))
            let positions = split.flatMap { (0..<$0).map { Int32(5 - $0) } }
            let encoded = try k.withUnsafeBufferPointer { kp in
                try v.withUnsafeBufferPointer { vp in
                    try sender.encodeLayer(layer, headCounts: split, positions: positions, keys: kp, values: vp)
                }
            }
            guard case .kvLayer(let header) = try Message.decode(encoded.envelope) else { Issue.record("not KVLayer"); return }
            var outK = [Float](repeating: 0, count: n), outV = outK
            try outK.withUnsafeMutableBufferPointer { kp in
                try outV.withUnsafeMutableBufferPointer { vp in
                    try receiver.receiveLayer(header, frames: encoded.frames, keys: kp, values: vp)
                }
            }
            #expect(header.positions == positions && header.headEntryCounts == split)
            #expect(outK == (dtype == .f32 ? k : k.map(f16Rounded)))
            #expect(outV == (dtype == .f32 ? v : v.map(f16Rounded)))
        }
        #expect(sender.allLayersEncoded)
        let endBytes = try sender.encodeEnd(firstToken: 123, times: StageTimes(prefillEndUnixMicros: 5))
        guard case .kvEnd(let end) = try Message.decode(endBytes) else { Issue.record("not KVEnd"); return }
        try receiver.finish(end)
        #expect(receiver.isComplete)
        #expect(end.firstToken == 123)

        let formula = try KVWireSize.payloadBytes(entryCounts: begin.entryCounts, headDim: 8, dtype: dtype)
        #expect(formula == 2 * 13 * 8 * dtype.byteWidth)   // exactly the 13 kept entries, no padding
        #expect(sender.payloadBytes == formula)
        #expect(receiver.receivedPayloadBytes == formula)
        #expect(sender.wireBytes == formula + sender.envelopeBytes)
        #expect(sender.envelopeBytes > 0 && sender.envelopeBytes < 1024)
    }

    @Test("a model or geometry mismatch is rejected at KVBegin, before any payload")
    func modelMismatch() throws {
        var other = Self.model
        other.fingerprint = [0xAB, 0xCE]
        #expect(throws: WireError.modelMismatch(field: "fingerprint", expected: "abce", found: "abcd")) {
            try KVTransferReceiver(begin: Self.begin(), localModel: other)
        }
        other = Self.model
        other.headDim = 128
        #expect(throws: WireError.modelMismatch(field: "head_dim", expected: "128", found: "8")) {
            try KVTransferReceiver(begin: Self.begin(), localModel: other)
        }
    }

    /// What a decode worker runs before allocating for a layer: the same checks as accept, nothing marked.
    @Test("validate checks a layer header against KVBegin without marking it")
    func validateBeforeAllocating() throws {
        let receiver = try KVTransferReceiver(begin: Self.begin(), localModel: Self.model)
        let inflated = KVLayerHeader(requestID: 77, layerIndex: 0, headEntryCounts: [3, 3], positions: [0, 1, 2, 3, 4, 5],
                                     frameByteCounts: [6 * 8 * 2, 6 * 8 * 2], keyFrameCount: 1)
        #expect(throws: WireError.countMismatch(field: "KVLayer[0].entry_count (Σ head_entry_counts)", expected: 5, found: 6)) {
            try receiver.validate(inflated)
        }
        // Per-head counts that do not match the model's KV heads, or a head longer than the prompt.
        let threeHeads = KVLayerHeader(requestID: 77, layerIndex: 0, headEntryCounts: [2, 2, 1], positions: [0, 1, 2, 3, 4],
                                       frameByteCounts: [5 * 8 * 2, 5 * 8 * 2], keyFrameCount: 1)
        #expect(throws: WireError.countMismatch(field: "KVLayer.head_entry_counts", expected: 2, found: 3)) {
            try receiver.validate(threeHeads)
        }
        let begin7 = KVBegin(requestID: 77, model: Self.model, wireDType: .f16, promptLength: 6, entryCounts: [7, 0, 0, 0],
                             sampling: try SamplingParameters(maxTokens: 4), compression: .full,
                             deadlineUnixMillis: nil, prefillWorkerID: 3)
        let long = KVLayerHeader(requestID: 77, layerIndex: 0, headEntryCounts: [7, 0], positions: Array(repeating: 0, count: 7),
                                 frameByteCounts: [7 * 8 * 2, 7 * 8 * 2], keyFrameCount: 1)
        #expect(throws: WireError.valueOutOfRange(field: "KVLayer[0].head_entry_counts[0]", value: 7, allowed: 0...6)) {
            try KVTransferReceiver(begin: begin7, localModel: Self.model).validate(long)
        }
        let good = KVLayerHeader(requestID: 77, layerIndex: 2, headEntryCounts: [1, 2], positions: [0, 1, 5],
                                 frameByteCounts: [3 * 8 * 2, 3 * 8 * 2], keyFrameCount: 1)
        try receiver.validate(good)
        try receiver.validate(good)   // not marked: validating twice is fine, accepting twice is not
        #expect(receiver.receivedLayerCount == 0 && receiver.receivedPayloadBytes == 0)
    }

    @Test("order and completeness are enforced")
    func ordering() throws {
        let begin = Self.begin(dtype: .f32, entryCounts: [1, 1, 1, 1])
        var receiver = try KVTransferReceiver(begin: begin, localModel: Self.model)
        let header = KVLayerHeader(requestID: 77, layerIndex: 1, headEntryCounts: [1, 0], positions: [0],
                                   frameByteCounts: [32, 32], keyFrameCount: 1)
        try receiver.accept(header)
        #expect(throws: WireError.transferOutOfOrder("layer 1 received twice")) { try receiver.accept(header) }
        var other = header
        other.requestID = 78
        #expect(throws: WireError.requestMismatch(expected: 77, found: 78)) { try receiver.accept(other) }
        other = header
        other.layerIndex = 4
        #expect(throws: WireError.layerIndexOutOfRange(index: 4, layerCount: 4)) { try receiver.accept(other) }
        other = header
        other.layerIndex = 2
        other.positions = [6]
        #expect(throws: WireError.valueOutOfRange(field: "KVLayer[2].positions[]", value: 6, allowed: 0...5)) {
            try receiver.accept(other)
        }
        other = header
        other.layerIndex = 2
        other.headEntryCounts = [1, 1]
        other.positions = [0, 1]
        other.frameByteCounts = [64, 64]
        #expect(throws: WireError.countMismatch(field: "KVLayer[2].entry_count (Σ head_entry_counts)", expected: 1, found: 2)) {
            try receiver.accept(other)
        }
        let end = KVEnd(requestID: 77, firstToken: 1, layerCount: 4, payloadBytes: 4 * 64)
        #expect(throws: WireError.transferOutOfOrder("KVEnd before layer 0 (1 of 4 received)")) { try receiver.finish(end) }
    }

    @Test("the sender refuses layers that contradict its KVBegin")
    func senderChecks() throws {
        var sender = try KVTransferEncoder(begin: Self.begin())
        let storage = UnsafeMutableBufferPointer<Float>.allocate(capacity: 5 * 8)
        storage.initialize(repeating: 1)
        defer { storage.deallocate() }
        let p = UnsafeBufferPointer(storage)
        #expect(throws: WireError.countMismatch(field: "KVLayer[0].entry_count", expected: 5, found: 4)) {
            _ = try sender.encodeLayer(0, headCounts: [2, 2], positions: [0, 1, 2, 3], keys: p, values: p)
        }
        #expect(throws: WireError.countMismatch(field: "KVLayer[0].head_entry_counts", expected: 2, found: 1)) {
            _ = try sender.encodeLayer(0, headCounts: [5], positions: [0, 1, 2, 3, 4], keys: p, values: p)
        }
        #expect(throws: WireError.layerIndexOutOfRange(index: 4, layerCount: 4)) {
            _ = try sender.encodeLayer(4, headCounts: [0, 0], positions: [], keys: p, values: p)
        }
        #expect(throws: WireError.transferOutOfOrder("KVEnd before layer 0 was encoded")) {
            _ = try sender.encodeEnd(firstToken: 0)
        }
        #expect(throws: WireError.valueOutOfRange(field: "KVBegin.entry_counts[]", value: 13, allowed: 0...12)) {
            try KVTransferEncoder(begin: Self.begin(entryCounts: [13, 0, 0, 0]))
        }
    }
}
