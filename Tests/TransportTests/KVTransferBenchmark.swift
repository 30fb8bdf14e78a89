import Foundation
import Synchronization
import RequestVocabulary
import Testing
import Transport
import Wire

/// glibc's mallopt (<malloc.h> is not in the Glibc module).
@_silgen_name("mallopt") func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32

/// Encode + send + receive + decode of a realistic KV transfer over tcp loopback, one transfer at a
/// time (the receiver acks each KVEnd; the sender times start → ack). Opt-in, and meaningful only in
/// release builds:  FASTKV_WIRE_BENCH=1 swift test -c release --filter KVTransferBenchmark
@Suite("KV transfer benchmark", .serialized)
struct KVTransferBenchmark {
    struct Case: Sendable, CustomStringConvertible {
        var entries: Int
        var dtype: WireDType
        var description: String { "30 layers × 3 KV heads × d 64, \(entries) entries/layer, \(dtype)" }
    }

    static let model = ModelShape(fingerprint: Array(repeating: 7, count: 32), layerCount: 30, kvHeads: 3, headDim: 64)
    static let repetitions = 7
    /// Distinct source/destination buffers cycled over layers, so data comes from DRAM, not L2.
    static let bufferSets = 4

    static func ms(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15
    }

    static func summary(_ xs: [Double]) -> String {
        let s = xs.sorted()
        return String(format: "min %.2f  median %.2f  max %.2f ms", s.first!, s[s.count / 2], s.last!)
    }

    @Test("encode + send + receive + decode over tcp loopback",
          .enabled(if: ProcessInfo.processInfo.environment["FASTKV_WIRE_BENCH"] == "1"),
          arguments: [Case(entries: 819, dtype: .f16), Case(entries: 8192, dtype: .f32)])
    func transfer(_ c: Case) throws {
        let perTensor = 3 * c.entries * 64
        let begin = KVBegin(requestID: 1, model: Self.model, wireDType: c.dtype, promptLength: 8192,
                            entryCounts: Array(repeating: 3 * c.entries, count: 30), sampling: SamplingParameters.greedy,
                            compression: .full, deadlineUnixMillis: nil, prefillWorkerID: 1)
        let payloadBytes = try begin.payloadBytes()
        let sources: [[Float]] = (0..<(2 * Self.bufferSets)).map { i in
            (0..<perTensor).map { Float(($0 &* 2_654_435_761 &+ i) % 20_000) * 1e-3 - 10 }
        }
        let headPositions = (0..<c.entries).map { Int32($0 * (8192 / c.entries)) }
        let positions: [Int32] = headPositions + headPositions + headPositions
        let headCounts = [c.entries, c.entries, c.entries]

        // Codec alone, no sockets: what encode and decode cost per transfer.
        var encodeOnly: [Double] = [], decodeOnly: [Double] = []
        let codecPool = PayloadBufferPool()
        var destinationK = (0..<Self.bufferSets).map { _ in [Float](repeating: 0, count: perTensor) }
        var destinationV = destinationK
        for _ in 0..<Self.repetitions {
            var sender = try KVTransferEncoder(begin: begin, pool: codecPool)
            var layers: [EncodedKVLayer] = []
            let t0 = ContinuousClock.now
            for l in 0..<30 {
                let set = l % Self.bufferSets
                layers.append(try sources[2 * set].withUnsafeBufferPointer { k in
                    try sources[2 * set + 1].withUnsafeBufferPointer { v in
                        try sender.encodeLayer(l, headCounts: headCounts, positions: positions, keys: k, values: v)
                    }
                })
            }
            encodeOnly.append(Self.ms(elapsed(since: t0)))
            var receiver = try KVTransferReceiver(begin: begin, localModel: Self.model)
            let t1 = ContinuousClock.now
            for (l, layer) in layers.enumerated() {
                let set = l % Self.bufferSets
                try destinationK[set].withUnsafeMutableBufferPointer { k in
                    try destinationV[set].withUnsafeMutableBufferPointer { v in
                        try receiver.receiveLayer(layer.header, frames: layer.frames, keys: k, values: v)
                    }
                }
            }
            decodeOnly.append(Self.ms(elapsed(since: t1)))
        }

        // End to end over tcp://127.0.0.1, one context (I/O thread) per side as in two processes.
        if ProcessInfo.processInfo.environment["FASTKV_WIRE_BENCH_MALLOPT"] == "1" {
            // Keep large frees in the heap so libzmq's per-frame receive buffers stop page-faulting.
            _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD */, 64 << 20)
            _ = glibcMallopt(-1 /* M_TRIM_THRESHOLD */, 512 << 20)
        }
        let usePool = ProcessInfo.processInfo.environment["FASTKV_WIRE_BENCH_POOL"] != "0"
        let context = try ZMQContext(), senderContext = try ZMQContext()
        let router = try context.socket(.router)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        let results = Mutex<(total: [Double], encode: [Double], wireBytes: Int)>(([], [], 0))
        let sourcesCopy = sources
        let sender = Background {
            let dealer = try senderContext.socket(.dealer, options: .routed(RoutingID("prefill")))
            try dealer.connect(endpoint)
            let pool = usePool ? PayloadBufferPool() : nil
            for rep in 0...Self.repetitions {   // rep 0 warms up
                var encoder = try KVTransferEncoder(begin: begin, pool: pool)
                let start = ContinuousClock.now
                var encodeTime = Duration.zero
                try dealer.send([.bytes(try encoder.encodeBegin())], timeout: .seconds(10))
                for l in 0..<30 {
                    let set = l % Self.bufferSets
                    let t = ContinuousClock.now
                    let layer = try sourcesCopy[2 * set].withUnsafeBufferPointer { k in
                        try sourcesCopy[2 * set + 1].withUnsafeBufferPointer { v in
                            try encoder.encodeLayer(l, headCounts: headCounts, positions: positions, keys: k, values: v)
                        }
                    }
                    encodeTime += elapsed(since: t)
                    try dealer.send(layer.outgoingFrames, timeout: .seconds(10))
                }
                try dealer.send([.bytes(try encoder.encodeEnd(firstToken: 1))], timeout: .seconds(10))
                let ack = try dealer.receive(timeout: .seconds(30))
                precondition(ack.frames[0].bytes == [1])
                if rep > 0 {
                    results.withLock {
                        $0.total.append(Self.ms(elapsed(since: start)))
                        $0.encode.append(Self.ms(encodeTime))
                        $0.wireBytes = encoder.wireBytes
                    }
                }
            }
        }

        var decodeTimes: [Double] = []
        for rep in 0...Self.repetitions {
            var receiver: KVTransferReceiver?
            var decodeTime = Duration.zero
            var peer: RoutingID?
            while receiver?.isComplete != true {
                let message = try router.receive(timeout: .seconds(30))
                peer = message.peer
                switch try Message.decode(frame: message.header) {
                case .kvBegin(let b): receiver = try KVTransferReceiver(begin: b, localModel: Self.model)
                case .kvLayer(let header):
                    let set = header.layerIndex % Self.bufferSets
                    let t = ContinuousClock.now
                    try destinationK[set].withUnsafeMutableBufferPointer { k in
                        try destinationV[set].withUnsafeMutableBufferPointer { v in
                            try receiver!.receiveLayer(header, frames: message.payload, keys: k, values: v)
                        }
                    }
                    decodeTime += elapsed(since: t)
                case .kvEnd(let end): try receiver!.finish(end)
                default: Issue.record("unexpected message")
                }
            }
            try router.send([.bytes([1])], to: peer, timeout: .seconds(10))
            if rep > 0 { decodeTimes.append(Self.ms(decodeTime)) }
        }
        try sender.join()
        let r = results.withLock { $0 }
        let mb = Double(payloadBytes) / 1e6
        let medianTotal = r.total.sorted()[r.total.count / 2]
        print("""
            [bench] \(c)  (sender pool: \(usePool), mallopt: \(ProcessInfo.processInfo.environment["FASTKV_WIRE_BENCH_MALLOPT"] == "1"))
            [bench]   payload \(String(format: "%.2f", mb)) MB, envelopes \(r.wireBytes - payloadBytes) B, wire \(r.wireBytes) B
            [bench]   codec only   encode: \(Self.summary(encodeOnly))   decode: \(Self.summary(decodeOnly))
            [bench]   end to end   \(Self.summary(r.total))  (\(String(format: "%.0f", mb / medianTotal * 1e3)) MB/s payload at the median)
            [bench]   within it    sender encode \(Self.summary(r.encode))   receiver decode \(Self.summary(decodeTimes))
            """)
        #expect(r.total.count == Self.repetitions)
    }
}
