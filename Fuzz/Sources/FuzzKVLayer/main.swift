import FuzzSupport
import RequestVocabulary
import Wire
import WireFuzzSupport

// KVLayerCodec on one layer: a header envelope and its payload frames, against a geometry taken from
// the input. Input: options (bit 0: f16, bits 1-2: unused since the destination became one contiguous [Σ heads, d] block),
// kv_heads − 1 (mod 4), head_dim − 1 (mod 16), then records (FuzzInput): the first envelope must be
// a KVLayer, the frame records after it are its payload.
// Properties: bad input throws; on a throw the destination is untouched; on success, encoding the
// decoded floats gives back the very payload bytes (f16 NaNs may come back quieted).

struct Geometry {
    var dtype: WireDType
    var spare: Int
    var kvHeads: Int
    var headDim: Int

    init?(_ input: inout FuzzInput) {
        guard let options = input.byte(), let heads = input.byte(), let dim = input.byte() else { return nil }
        dtype = options & 1 == 0 ? .f32 : .f16
        spare = Int(options >> 1) & 3
        kvHeads = 1 + Int(heads) % 4
        headDim = 1 + Int(dim) % 16
    }
}

/// nil: accepted (and round-tripped); otherwise why it was refused.
func run(_ data: UnsafePointer<UInt8>, _ size: Int) -> String? {
    var input = FuzzInput(data, size)
    guard let g = Geometry(&input) else { return "no geometry" }
    guard let first = input.record(), KVRecord.isEnvelope(first.kind) else { return "no header" }
    let header: KVLayerHeader
    do {
        guard case .kvLayer(let h) = try Message.decode(first.bytes) else { return "not a KVLayer" }
        header = h
    } catch { return "\(error)" }
    var frames: [InputFrame] = []
    while let r = input.record(), !KVRecord.isEnvelope(r.kind) { frames.append(InputFrame(r.bytes)) }

    do {
        try KVLayerCodec.validateLayout(header, kvHeads: g.kvHeads, headDim: g.headDim, dtype: g.dtype)
    } catch { return "\(error)" }
    // What a receiver sizes from a validated header: Σ head counts ≤ the envelope's positions, so small.
    let count = header.entryCount * g.headDim
    let tensorBytes = count * (g.dtype == .f32 ? 4 : 2)
    let sentinel = Float(bitPattern: 0x7FC0_DEAD)
    var keys = [Float](repeating: sentinel, count: count), values = keys
    let decoded: Result<Void, WireError> = keys.withUnsafeMutableBufferPointer { kp in
        values.withUnsafeMutableBufferPointer { vp in
            do throws(WireError) {
                try KVLayerCodec.decode(header, frames: frames, kvHeads: g.kvHeads, headDim: g.headDim, dtype: g.dtype,
                                        keys: kp, values: vp)
                return .success(())
            } catch { return .failure(error) }
        }
    }
    if case .failure(let error) = decoded {
        let untouched = (keys + values).allSatisfy { $0.bitPattern == sentinel.bitPattern }
        precondition(untouched, "KVLayerCodec.decode threw \(error) after writing to the destination")
        return "\(error)"
    }

    // decode ∘ encode = identity on the payload bytes.
    let encoded: EncodedKVLayer
    do {
        encoded = try keys.withUnsafeBufferPointer { kp in
            try values.withUnsafeBufferPointer { vp in
                try KVLayerCodec.encode(requestID: header.requestID, layerIndex: header.layerIndex,
                                        headCounts: header.headEntryCounts, positions: header.positions,
                                        keys: kp, values: vp, headDim: g.headDim, dtype: g.dtype)
            }
        }
    } catch {
        fatalError("a layer that decoded does not re-encode: \(error)")
    }
    var sent: [UInt8] = []
    for frame in frames { frame.withUnsafeBytes { sent.append(contentsOf: $0) } }
    precondition(sent.count == 2 * tensorBytes && encoded.payload.byteCount == sent.count,
                 "payload sizes differ: \(sent.count) received, \(encoded.payload.byteCount) re-encoded")
    encoded.payload.withUnsafeBytes { again in
        if g.dtype == .f32 {
            precondition(again.elementsEqual(sent), "f32 payload changed through decode + encode")
        } else {
            for i in Swift.stride(from: 0, to: sent.count, by: 2) {
                let a = UInt16(sent[i]) | UInt16(sent[i + 1]) << 8
                let b = UInt16(again[i]) | UInt16(again[i + 1]) << 8
                let nan = { (h: UInt16) in h & 0x7C00 == 0x7C00 && h & 0x03FF != 0 }
                precondition(a == b || (nan(a) && nan(b)), "f16 element \(i / 2) changed: \(a) → \(b)")
            }
        }
    }
    precondition(encoded.header.positions == header.positions && encoded.header.headEntryCounts == header.headEntryCounts,
                 "re-encoded header differs")
    return nil
}

func seeds() throws -> [Seed] {
    var out: [Seed] = []
    for (name, dtype, entries, spare, maxFrame) in [("f16", WireDType.f16, 5, 0, 64), ("f32", .f32, 3, 1, 128),
                                                    ("f16-one-frame", .f16, 4, 3, 1 << 20), ("empty", .f32, 0, 0, 64)] {
        let heads = WireSeeds.model.kvHeads
        // Ragged when there are entries: head 0 keeps one more, the last one fewer.
        var counts = Array(repeating: entries, count: heads)
        if entries > 0 && heads > 1 { counts[0] += 1; counts[heads - 1] -= 1 }
        let begin = WireSeeds.begin(dtype: dtype, entryCounts: [counts.reduce(0, +), 0, 0, 0])
        var encoder = try KVTransferEncoder(begin: begin, maxFrameBytes: maxFrame)
        let positions = counts.flatMap { c in (0 ..< c).map { Int32($0) } }
        let (envelope, frames) = try WireSeeds.layer(&encoder, 0, headCounts: counts, positions: positions)
        let g = [(dtype == .f16 ? 1 : 0) | UInt8(spare << 1), UInt8(WireSeeds.model.kvHeads - 1),
                 UInt8(WireSeeds.model.headDim - 1)]
        var w = RecordWriter(prefix: g)
        w.append(kind: KVRecord.envelope, envelope)
        for f in frames { w.append(kind: KVRecord.frame, f) }
        out.append(Seed(name, w.bytes))
    }
    return out
}

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>,
                       _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    SeedCorpus.handleEnvironment(target: "FuzzKVLayer", seeds: seeds) { bytes in
        bytes.withUnsafeBufferPointer { run($0.baseAddress!, $0.count) }
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = run(data, size)
    return 0
}
