import FuzzSupport
import RequestVocabulary
import Wire
import WireFuzzSupport

// KVTransferReceiver, the decode worker's per-transfer state machine, driven the way its I/O loop
// drives it: input = options byte (bits 0-1: unused since the destination became one contiguous [Σ heads, d] block), then
// records (FuzzInput). An envelope record is decoded with Message.decode: KVBegin opens a transfer
// (against the worker's model, WireSeeds.model), KVLayer is a layer header whose payload is the
// frame records after it, KVEnd closes the transfer; other bodies are ignored, as a KV socket would
// refuse them. Before a layer is decoded it is validated (that is what a worker does before it
// allocates), and the destination is sized from KVBegin's announced count, never from the header.
// Invariants: bad input throws; a refused layer changes neither the receiver nor the destination;
// the received bytes never exceed what KVBegin announced; a finished transfer has every layer.

struct Stream {
    var spare: Int
    var receiver: KVTransferReceiver?
    var pending: (header: KVLayerHeader, frames: [InputFrame])?
    var completed = 0
    var refusals: [String] = []

    mutating func refuse(_ error: WireError) { refusals.append("\(error)") }

    mutating func envelope(_ bytes: UnsafeRawBufferPointer) {
        flushLayer()
        let message: Message
        do { message = try Message.decode(bytes) } catch { refuse(error); return }
        switch message {
        case .kvBegin(let begin):
            do { receiver = try KVTransferReceiver(begin: begin, localModel: WireSeeds.model) } catch {
                receiver = nil
                refuse(error)
            }
        case .kvLayer(let header):
            pending = (header, [])
        case .kvEnd(let end):
            guard var r = receiver else { return }
            do {
                try r.finish(end)
                precondition(r.isComplete && r.receivedLayerCount == r.begin.model.layerCount
                             && r.receivedPayloadBytes == r.expectedPayloadBytes,
                             "finished with \(r.receivedLayerCount) layers, \(r.receivedPayloadBytes) of \(r.expectedPayloadBytes) B")
                completed += 1
            } catch { refuse(error) }
            receiver = r
        default:
            refusals.append("\(message.kind) on a KV socket")
        }
    }

    mutating func frame(_ bytes: UnsafeRawBufferPointer) {
        pending?.frames.append(InputFrame(bytes))
    }

    mutating func flushLayer() {
        guard let (header, frames) = pending else { return }
        pending = nil
        guard var r = receiver else { return }
        do { try r.validate(header) } catch { refuse(error); return }
        // Sized as the decode worker sizes it: the layer's total over its heads, from KVBegin.
        let count = r.begin.entryCounts[header.layerIndex] * r.begin.model.headDim
        let sentinel = Float(bitPattern: 0x7FC0_DEAD)
        var keys = [Float](repeating: sentinel, count: count), values = keys
        let before = (r.receivedLayerCount, r.receivedPayloadBytes)
        let outcome: WireError? = keys.withUnsafeMutableBufferPointer { kp in
            values.withUnsafeMutableBufferPointer { vp in
                do throws(WireError) {
                    try r.receiveLayer(header, frames: frames, keys: kp, values: vp)
                    return nil
                } catch { return error }
            }
        }
        if let error = outcome {
            precondition(before == (r.receivedLayerCount, r.receivedPayloadBytes),
                         "a refused layer (\(error)) changed the receiver")
            precondition((keys + values).allSatisfy { $0.bitPattern == sentinel.bitPattern },
                         "a refused layer (\(error)) wrote to the destination")
            refuse(error)
        }
        precondition(r.receivedPayloadBytes <= r.expectedPayloadBytes,
                     "received \(r.receivedPayloadBytes) B of a transfer announced as \(r.expectedPayloadBytes) B")
        receiver = r
    }
}

func run(_ data: UnsafePointer<UInt8>, _ size: Int) -> Stream? {
    var input = FuzzInput(data, size)
    guard let options = input.byte() else { return nil }
    var stream = Stream(spare: Int(options) & 3)
    while let r = input.record() {
        if KVRecord.isEnvelope(r.kind) { stream.envelope(r.bytes) } else { stream.frame(r.bytes) }
    }
    stream.flushLayer()
    return stream
}

func seeds() throws -> [Seed] {
    [
        Seed("f16-in-order", try WireSeeds.transfer(dtype: .f16, entryCounts: [5, 0, 3, 5], order: [0, 1, 2, 3],
                                                    maxFrameBytes: 64, prefix: [0])),
        Seed("f16-pipelined", try WireSeeds.transfer(dtype: .f16, entryCounts: [5, 0, 3, 5], order: [2, 0, 3, 1],
                                                     maxFrameBytes: 64, prefix: [2])),
        Seed("f32-strided", try WireSeeds.transfer(dtype: .f32, entryCounts: [6, 6, 2, 1], order: [3, 2, 1, 0],
                                                   maxFrameBytes: 128, prefix: [3])),
        Seed("f16-ragged", try WireSeeds.transfer(dtype: .f16, entryCounts: [5, 0, 3, 5], order: [0, 1, 2, 3],
                                                  maxFrameBytes: 64, prefix: [0], ragged: 2)),
        Seed("f32-one-frame", try WireSeeds.transfer(dtype: .f32, entryCounts: [1, 2, 3, 4], order: [0, 1, 2, 3],
                                                     maxFrameBytes: 1 << 20, prefix: [1])),
    ]
}

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>,
                       _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    SeedCorpus.handleEnvironment(target: "FuzzKVReceiver", seeds: seeds) { bytes in
        guard let s = bytes.withUnsafeBufferPointer({ run($0.baseAddress!, $0.count) }) else { return "empty" }
        return s.completed == 1 && s.refusals.isEmpty ? nil : "completed \(s.completed), refused: \(s.refusals)"
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = run(data, size)
    return 0
}
