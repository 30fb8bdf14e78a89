import Testing
import Transport
import Wire

@Suite("ZeroMQ sockets", .serialized)
struct SocketTests {
    let context: ZMQContext

    init() throws { context = try ZMQContext() }

    @Test("ROUTER/DEALER multipart over tcp on an ephemeral port, both directions")
    func routerDealer() throws {
        let router = try context.socket(.router)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:") && !endpoint.hasSuffix(":*") && !endpoint.hasSuffix(":0"))
        let dealer = try context.socket(.dealer, options: .routed(RoutingID("prefill-1")))
        try dealer.connect(endpoint)

        let header = try Message.cancel(Cancel(requestID: 9, reason: "test")).encoded()
        let payload = PayloadBuffer(copying: (0..<200).map { UInt8($0) })
        try dealer.send(header: header, payload: [payload.wholeFrame, PayloadSlice(buffer: payload, range: 10..<20)],
                        timeout: .seconds(5))
        let message = try router.receive(timeout: .seconds(5))
        #expect(message.peer == RoutingID("prefill-1"))
        #expect(message.frames.count == 3)
        #expect(try Message.decode(frame: message.header) == .cancel(Cancel(requestID: 9, reason: "test")))
        #expect(message.payload.map(\.bytes) == [(0..<200).map { UInt8($0) }, (10..<20).map { UInt8($0) }])

        try router.send([.bytes([1, 2, 3]), .bytes([])], to: message.peer, timeout: .seconds(5))
        let reply = try dealer.receive(timeout: .seconds(5))
        #expect(reply.peer == nil)
        #expect(reply.frames.map(\.bytes) == [[1, 2, 3], []])
    }

    @Test("a 32 MiB zero-copy payload split into frames arrives intact, and its buffer is released")
    func zeroCopyLarge() throws {
        let pull = try context.socket(.pull)
        let endpoint = try pull.bind("tcp://127.0.0.1:*")
        let push = try context.socket(.push)
        try push.connect(endpoint)

        let byteCount = 32 << 20
        weak var weakBuffer: PayloadBuffer?
        let sentSum: UInt64
        do {
            let buffer = patternBuffer(byteCount: byteCount, seed: 42)
            weakBuffer = buffer
            sentSum = buffer.withUnsafeBytes { checksum($0) }
            var frames: [PayloadSlice] = []
            var at = 0
            for n in try KVWireSize.frameSizes(tensorBytes: byteCount, maxFrameBytes: 16 << 20) {
                frames.append(PayloadSlice(buffer: buffer, range: at..<(at + n)))
                at += n
            }
            #expect(frames.count == 2)
            try push.send(header: [7], payload: frames, timeout: .seconds(5))
        }   // our reference is gone; Transport's retains keep the bytes alive until sent

        let message = try pull.receive(timeout: .seconds(20))
        #expect(message.frames.count == 3)
        #expect(message.payload.map(\.byteCount) == [16 << 20, 16 << 20])
        // Reassemble the checksum across frames in order.
        let joined = PayloadBuffer(byteCount: byteCount) { out in
            var at = 0
            for frame in message.payload {
                frame.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                    (out.baseAddress! + at).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
                    at += raw.count
                }
            }
        }
        #expect(joined.withUnsafeBytes { checksum($0) } == sentSum)
        // libzmq's free callback released the last retain once the bytes were written.
        let start = ContinuousClock.now
        while weakBuffer != nil && elapsed(since: start) < .seconds(5) { pause(milliseconds: 5) }
        #expect(weakBuffer == nil, "PayloadBuffer still alive after its frames were delivered")
    }

    @Test("zero-copy frames from a pool return their memory to it once sent")
    func pooledZeroCopy() throws {
        let pull = try context.socket(.pull)
        let push = try context.socket(.push)
        try push.connect(try pull.bind("tcp://127.0.0.1:*"))
        let pool = PayloadBufferPool()
        do {
            let buffer = PayloadBuffer(byteCount: 1 << 20, pool: pool) { $0.initializeMemory(as: UInt8.self, repeating: 5) }
            try push.send(header: [1], payload: [PayloadSlice(buffer: buffer, range: 0..<(1 << 19)),
                                                 PayloadSlice(buffer: buffer, range: (1 << 19)..<(1 << 20))],
                          timeout: .seconds(5))
        }
        let message = try pull.receive(timeout: .seconds(5))
        #expect(message.payload.allSatisfy { $0.bytes.allSatisfy { $0 == 5 } })
        let start = ContinuousClock.now
        while pool.retainedBytes == 0 && elapsed(since: start) < .seconds(5) { pause(milliseconds: 5) }
        #expect(pool.retainedBytes == 1 << 20)
    }

    @Test("a receive with nothing to read times out within its deadline")
    func receiveTimeout() throws {
        let pull = try context.socket(.pull)
        _ = try pull.bind("tcp://127.0.0.1:*")
        let start = ContinuousClock.now
        #expect(throws: TransportError.timedOut(operation: "receive", after: .milliseconds(150),
                                                endpoint: pull.endpointDescription)) {
            try pull.receive(timeout: .milliseconds(150))
        }
        let took = elapsed(since: start)
        #expect(took >= .milliseconds(150) && took < .milliseconds(400), "timeout of 150 ms took \(took)")
    }

    @Test("a send with no peer to take it times out (ZMQ_IMMEDIATE), it does not queue forever")
    func sendTimeout() throws {
        let dealer = try context.socket(.dealer)
        try dealer.connect("tcp://127.0.0.1:9")   // discard port: nothing listens
        let start = ContinuousClock.now
        #expect(throws: TransportError.timedOut(operation: "send", after: .milliseconds(150),
                                                endpoint: dealer.endpointDescription)) {
            try dealer.send([.bytes([1])], timeout: .milliseconds(150))
        }
        #expect(elapsed(since: start) < .milliseconds(400))
    }

    @Test("ROUTER_MANDATORY: sending to an unknown or vanished peer is an error")
    func routerMandatory() throws {
        let router = try context.socket(.router)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        #expect(throws: TransportError.peerUnreachable(peer: RoutingID("ghost"), endpoint: router.endpointDescription)) {
            try router.send([.bytes([1])], to: RoutingID("ghost"), timeout: .seconds(1))
        }
        // A peer that was there and left.
        let dealer = try context.socket(.dealer, options: .routed(RoutingID("d1")))
        try dealer.connect(endpoint)
        try dealer.send([.bytes([0])], timeout: .seconds(5))
        #expect(try router.receive(timeout: .seconds(5)).peer == RoutingID("d1"))
        dealer.close()
        var outcome: TransportError?
        let start = ContinuousClock.now
        while outcome == nil && elapsed(since: start) < .seconds(5) {
            do { try router.send([.bytes([1])], to: RoutingID("d1"), timeout: .seconds(1)) } catch { outcome = error }
            pause(milliseconds: 10)
        }
        #expect(outcome == .peerUnreachable(peer: RoutingID("d1"), endpoint: router.endpointDescription))
        #expect(throws: TransportError.self) { try router.send([.bytes([1])], timeout: .seconds(1)) }   // no peer given
    }

    @Test("ZMQ_MAXMSGSIZE: an oversize frame is never delivered; later messages are")
    func maxMessageSize() throws {
        var options = SocketOptions()
        options.maxFrameBytes = 1 << 20
        let pull = try context.socket(.pull, options: options)
        let endpoint = try pull.bind("tcp://127.0.0.1:*")
        let push = try context.socket(.push)
        try push.connect(endpoint)
        try push.send(header: [1], payload: [patternBuffer(byteCount: 2 << 20, seed: 1).wholeFrame], timeout: .seconds(5))
        #expect(throws: TransportError.timedOut(operation: "receive", after: .milliseconds(500),
                                                endpoint: pull.endpointDescription)) {
            try pull.receive(timeout: .milliseconds(500))
        }
        let honest = try context.socket(.push)
        try honest.connect(endpoint)
        try honest.send([.bytes([2]), .bytes([UInt8](repeating: 3, count: 1000))], timeout: .seconds(5))
        let message = try pull.receive(timeout: .seconds(5))
        #expect(message.frames.map(\.byteCount) == [1, 1000])
    }

    @Test("per-message frame and byte caps reject a message and resynchronise on the next")
    func messageCaps() throws {
        var options = SocketOptions()
        options.maxFramesPerMessage = 4
        options.maxMessageBytes = 1000
        let pull = try context.socket(.pull, options: options)
        let endpoint = try pull.bind("tcp://127.0.0.1:*")
        let push = try context.socket(.push)
        try push.connect(endpoint)
        try push.send(Array(repeating: .bytes([9]), count: 10), timeout: .seconds(5))
        try push.send(Array(repeating: .bytes([UInt8](repeating: 1, count: 400)), count: 3), timeout: .seconds(5))
        try push.send([.bytes([5]), .bytes([6, 6])], timeout: .seconds(5))
        #expect(throws: TransportError.messageTooLarge(frameCount: 5, byteCount: 5, maxFrames: 4, maxBytes: 1000,
                                                       endpoint: pull.endpointDescription)) {
            try pull.receive(timeout: .seconds(5))
        }
        #expect(throws: TransportError.messageTooLarge(frameCount: 3, byteCount: 1200, maxFrames: 4, maxBytes: 1000,
                                                       endpoint: pull.endpointDescription)) {
            try pull.receive(timeout: .seconds(5))
        }
        #expect(try pull.receive(timeout: .seconds(5)).frames.map(\.bytes) == [[5], [6, 6]])
    }

    @Test("invalid uses are errors, not traps")
    func invalidUse() throws {
        let push = try context.socket(.push)
        #expect(throws: TransportError.invalidArgument("send of an empty message on push socket (unbound)")) {
            try push.send([], timeout: .seconds(1))
        }
        #expect(throws: TransportError.self) { try push.send([.bytes([1])], to: RoutingID("x"), timeout: .seconds(1)) }
        #expect(throws: TransportError.self) { try push.bind("tcp://no-such-host.invalid:1") }
        push.close()
        #expect(throws: TransportError.socketClosed(endpoint: "push socket (unbound)")) {
            try push.send([.bytes([1])], timeout: .seconds(1))
        }
        #expect(throws: TransportError.self) { try context.socket(.dealer, options: .routed(RoutingID([0, 1]))) }
    }
}
