import RequestVocabulary
import Testing
import Wire

@Suite("Message encode/decode round trip")
struct MessageRoundTripTests {
    @Test("every body survives encode → decode unchanged", arguments: Samples.all)
    func roundTrip(_ message: Message) throws {
        let bytes = try message.encoded()
        let decoded = try Message.decode(bytes)
        #expect(decoded == message, "\(message.kind) changed in the round trip")
        // Decoding from a frame (no copy) gives the same value.
        #expect(try Message.decode(frame: PayloadBuffer(copying: bytes).wholeFrame) == message)
    }

    @Test("every enum value survives the round trip")
    func enumSweep() throws {
        for message in Samples.enumSweep {
            #expect(try Message.decode(try message.encoded()) == message)
        }
    }

    @Test("requestID and kind describe the body")
    func accessors() {
        #expect(Message.cancel(Cancel(requestID: 5, reason: "")).requestID == 5)
        #expect(Message.statusQuery(StatusQuery()).requestID == nil)
        #expect(Message.kvBegin(Samples.kvBegin).kind == "KVBegin")
    }

    @Test("a KV layer header stays small: varint positions, no payload")
    func headerOverhead() throws {
        let header = KVLayerHeader(requestID: 42, layerIndex: 3, headEntryCounts: [819],
                                   positions: (0..<819).map { Int32($0 * 10) }, frameByteCounts: [314_496, 314_496],
                                   keyFrameCount: 1)
        let bytes = try Message.kvLayer(header).encoded()
        // 819 positions below 2^14 take at most 2 bytes each.
        #expect(bytes.count < 819 * 2 + 64, "KVLayer envelope is \(bytes.count) bytes")
    }

    @Test("values that do not fit their wire field are rejected at encode time")
    func encodeRange() throws {
        var begin = Samples.kvBegin
        begin.entryCounts[0] = 1 << 40
        #expect(throws: WireError.valueOutOfRange(field: "KVBegin.entry_counts[]", value: 1 << 40, allowed: 0...(3 * 8192))) {
            try Message.kvBegin(begin).encoded()
        }
        var submit = Submit(requestID: 1, prompt: .text(""), sampling: try SamplingParameters(maxTokens: 1 << 40))
        #expect(throws: WireError.valueOutOfRange(field: "Sampling.max_tokens", value: 1 << 40,
                                                  allowed: 0...Int64(UInt32.max))) {
            try Message.submit(submit).encoded()
        }
        submit.request.sampling = nil
        submit.request.timeout = .seconds(-1)
        #expect(throws: WireError.self) { try Message.submit(submit).encoded() }
        let ack = RegisterAck(workerID: 1, heartbeatInterval: .seconds(-1), heartbeatMissesAllowed: 1)
        #expect(throws: WireError.self) { try Message.registerAck(ack).encoded() }
    }
}
