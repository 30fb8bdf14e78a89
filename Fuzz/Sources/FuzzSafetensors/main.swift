import Checkpoints
import Foundation
import FuzzSupport

// .safetensors from disk are hostile: SafetensorsFile (u64 header length, JSON header, dtypes,
// shapes, data_offsets against the data section), then every tensor's view and dequantisation.
// Bad input must be a thrown CheckpointError.

let scratch = ScratchFile(suffix: ".safetensors")

func run(_ bytes: UnsafeRawBufferPointer) -> String? {
    scratch.write(bytes)
    do {
        let file = try SafetensorsFile(url: scratch.url)
        for (name, info) in file.tensors.sorted(by: { $0.key < $1.key }) {
            precondition(info.byteCount >= 0 && info.offset >= 8 && info.offset <= file.storage.count - info.byteCount,
                         "tensor \(name) at \(info.offset)+\(info.byteCount) outside \(file.storage.count) bytes")
            let tensor = try file.tensor(named: name)
            if tensor.shape.reduce(1, *) <= 1 << 16 { _ = try tensor.dequantized() }
        }
        return nil
    } catch {
        return "\(error)"
    }
}

func file(_ entries: [(name: String, dtype: String, shape: [Int], data: [UInt8])], metadata: Bool) -> [UInt8] {
    var header: [String] = metadata ? [#""__metadata__":{"format":"pt"}"#] : []
    var data: [UInt8] = []
    for e in entries {
        header.append(#""\#(e.name)":{"dtype":"\#(e.dtype)","shape":\#(e.shape),"data_offsets":[\#(data.count),\#(data.count + e.data.count)]}"#)
        data += e.data
    }
    var json = Array(("{" + header.joined(separator: ",") + "}").utf8)
    while (8 + json.count) % 8 != 0 { json.append(UInt8(ascii: " ")) }
    var out: [UInt8] = []
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out += $0 }
    return out + json + data
}

func seeds() throws -> [Seed] {
    func f32(_ values: [Float]) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) } }
    func f16(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: Float16(v).bitPattern.littleEndian, Array.init) }
    }
    func bf16(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: UInt16(v.bitPattern >> 16).littleEndian, Array.init) }
    }
    return [
        Seed("three-dtypes", file([("model.embed_tokens.weight", "F32", [2, 3], f32([1, -2, 0.5, 3, 0, -0.25])),
                                   ("model.norm.weight", "F16", [4], f16([1, 1.5, -2, 0.125])),
                                   ("lm_head.weight", "BF16", [2, 2], bf16([1, 2, -3, 4]))], metadata: true)),
        Seed("scalar-and-empty", file([("a", "F32", [], f32([7])), ("b", "F16", [0, 4], [])], metadata: false)),
    ]
}

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>,
                       _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    SeedCorpus.handleEnvironment(target: "FuzzSafetensors", seeds: seeds) { bytes in bytes.withUnsafeBytes(run) }
    atexit { scratch.remove() }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = run(UnsafeRawBufferPointer(start: size == 0 ? nil : data, count: size))
    return 0
}
