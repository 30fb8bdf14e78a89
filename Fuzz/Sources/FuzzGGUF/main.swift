import Checkpoints
import Foundation
import FuzzSupport

// GGUF files from disk are hostile: GGUFFile (magic, version, metadata of every value type, tensor
// table, alignment, every range against the file size), then GGUFCheckpoint (the Llama config and
// vocabulary from metadata, tensor types and shapes) and every tensor's view and dequantisation.
// Bad input must be a thrown CheckpointError; the documented guarantees are checked on success.

let scratch = ScratchFile(suffix: ".gguf")

/// nil: opened as a checkpoint (seed check); otherwise why not.
func run(_ bytes: UnsafeRawBufferPointer) -> String? {
    scratch.write(bytes)
    do {
        let file = try GGUFFile(url: scratch.url)
        for info in file.tensorInfos {
            precondition(info.offset >= file.dataOffset && info.byteCount >= 0
                         && info.offset <= file.storage.count - info.byteCount,
                         "tensor \(info.name) at \(info.offset)+\(info.byteCount) outside \(file.storage.count) bytes")
        }
        let checkpoint = try GGUFCheckpoint(url: scratch.url)
        for name in checkpoint.tensorNames {
            let tensor = try checkpoint.tensor(named: name)
            if tensor.shape.reduce(1, *) <= 1 << 16 { _ = try tensor.dequantized() }
        }
        return nil
    } catch {
        return "\(error)"
    }
}

/// A GGUF v3 file in memory (ggml docs/gguf.md): little-endian, metadata in order, data aligned to 32.
struct GGUFBuilder {
    enum Value {
        case u32(UInt32), i32(Int32), f32(Float), bool(Bool), string(String), strings([String]), i32s([Int32])
    }
    var metadata: [(String, Value)] = []
    /// (name, ggml dims fastest first, ggml type, data)
    var tensors: [(String, [Int], UInt32, [UInt8])] = []

    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); out += Array(s.utf8) }
        func pad() { while out.count % 32 != 0 { out.append(0) } }
        out += Array("GGUF".utf8)
        u32(3)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (key, value) in metadata {
            string(key)
            switch value {
            case .u32(let v): u32(4); u32(v)
            case .i32(let v): u32(5); u32(UInt32(bitPattern: v))
            case .f32(let v): u32(6); u32(v.bitPattern)
            case .bool(let v): u32(7); out.append(v ? 1 : 0)
            case .string(let s): u32(8); string(s)
            case .strings(let items): u32(9); u32(8); u64(UInt64(items.count)); items.forEach(string)
            case .i32s(let items): u32(9); u32(5); u64(UInt64(items.count)); items.forEach { u32(UInt32(bitPattern: $0)) }
            }
        }
        var offset = 0
        for (name, dims, type, data) in tensors {
            string(name)
            u32(UInt32(dims.count))
            dims.forEach { u64(UInt64($0)) }
            u32(type)
            u64(UInt64(offset))
            offset = (offset + data.count + 31) / 32 * 32
        }
        pad()
        for (_, _, _, data) in tensors {
            out += data
            pad()
        }
        return out
    }
}

/// A one-layer Llama (hidden 8, 2 heads, 1 KV head, head_dim 4, FFN 8) with a 12-token gpt2 vocabulary.
func tinyLlama(f16Down: Bool, tied: Bool) -> [UInt8] {
    var b = GGUFBuilder()
    let tokens = ["<|endoftext|>", "Ġ", "a", "b", "c", "H", "e", "l", "o", "ab", "ll", "Ġa"]
    b.metadata = [
        ("general.architecture", .string("llama")), ("general.name", .string("fuzz-seed")),
        ("llama.block_count", .u32(1)), ("llama.context_length", .u32(64)), ("llama.embedding_length", .u32(8)),
        ("llama.feed_forward_length", .u32(8)), ("llama.attention.head_count", .u32(2)),
        ("llama.attention.head_count_kv", .u32(1)), ("llama.attention.key_length", .u32(4)),
        ("llama.rope.dimension_count", .u32(4)), ("llama.rope.freq_base", .f32(10000)),
        ("llama.attention.layer_norm_rms_epsilon", .f32(1e-5)), ("llama.vocab_size", .u32(UInt32(tokens.count))),
        ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("default")),
        ("tokenizer.ggml.tokens", .strings(tokens)),
        ("tokenizer.ggml.token_type", .i32s(tokens.indices.map { $0 == 0 ? 3 : 1 })),
        ("tokenizer.ggml.merges", .strings(["a b", "l l", "Ġ a"])),
        ("tokenizer.ggml.bos_token_id", .u32(0)), ("tokenizer.ggml.eos_token_id", .u32(0)),
        ("tokenizer.ggml.add_bos_token", .bool(false)),
        ("tokenizer.chat_template", .string("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% endfor %}")),
    ]
    func f32(_ n: Int, _ seed: Int) -> [UInt8] {
        var out: [UInt8] = []
        for i in 0 ..< n { withUnsafeBytes(of: Float((i * 7 + seed) % 13 - 6) / 16) { out += $0 } }
        return out
    }
    func f16(_ n: Int, _ seed: Int) -> [UInt8] {
        var out: [UInt8] = []
        for i in 0 ..< n { withUnsafeBytes(of: Float16(Float((i * 5 + seed) % 11 - 5) / 8).bitPattern.littleEndian) { out += $0 } }
        return out
    }
    let v = tokens.count
    b.tensors = [
        ("token_embd.weight", [8, v], 0, f32(8 * v, 1)),
        ("blk.0.attn_norm.weight", [8], 0, f32(8, 2)),
        ("blk.0.attn_q.weight", [8, 8], 0, f32(64, 3)),
        ("blk.0.attn_k.weight", [8, 4], 0, f32(32, 4)),
        ("blk.0.attn_v.weight", [8, 4], 0, f32(32, 5)),
        ("blk.0.attn_output.weight", [8, 8], 0, f32(64, 6)),
        ("blk.0.ffn_norm.weight", [8], 0, f32(8, 7)),
        ("blk.0.ffn_gate.weight", [8, 8], 0, f32(64, 8)),
        ("blk.0.ffn_up.weight", [8, 8], 0, f32(64, 9)),
        ("blk.0.ffn_down.weight", [8, 8], f16Down ? 1 : 0, f16Down ? f16(64, 10) : f32(64, 10)),
        ("output_norm.weight", [8], 0, f32(8, 11)),
    ]
    if !tied { b.tensors.append(("output.weight", [8, v], 0, f32(8 * v, 12))) }
    return b.bytes()
}

func seeds() throws -> [Seed] {
    [Seed("tiny-llama-f32-tied", tinyLlama(f16Down: false, tied: true)),
     Seed("tiny-llama-f16-untied", tinyLlama(f16Down: true, tied: false))]
}

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>,
                       _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    SeedCorpus.handleEnvironment(target: "FuzzGGUF", seeds: seeds) { bytes in bytes.withUnsafeBytes(run) }
    atexit { scratch.remove() }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = run(UnsafeRawBufferPointer(start: size == 0 ? nil : data, count: size))
    return 0
}
