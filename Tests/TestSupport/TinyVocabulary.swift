import Checkpoints
import Foundation

/// A toy byte-level BPE vocabulary for tiny models: `<|endoftext|>` (id 0, control), "Ġ" (space), a–z, A–Z,
/// 0–9 (64 tokens), then two-letter merges "aa", "ab", … for larger sizes. Usable as GGUF metadata (gpt2
/// model) or as an HF tokenizer.json, so both formats describe the same tokenizer.
public struct TinyVocabulary: Sendable {
    public let tokens: [String]
    public let tokenTypes: [Int32]
    /// "left right" pairs, in rank order.
    public let merges: [String]

    public init(size: Int) {
        let letters = "abcdefghijklmnopqrstuvwxyz".map(String.init)
        var tokens = ["<|endoftext|>", "Ġ"] + letters + letters.map { $0.uppercased() } + (0 ... 9).map(String.init)
        var merges: [String] = []
        outer: for a in letters {
            for b in letters {
                if tokens.count >= size { break outer }
                tokens.append(a + b)
                merges.append("\(a) \(b)")
            }
        }
        self.tokens = Array(tokens.prefix(size))
        tokenTypes = self.tokens.indices.map { $0 == 0 ? 3 : 1 }
        self.merges = merges
    }

    /// Adds `tokenizer.ggml.*` keys (model gpt2, pre "default", no BOS added).
    public func addMetadata(to writer: inout GGUFWriter, bos: Int32?, eos: [Int32]) {
        writer.set("tokenizer.ggml.model", .string("gpt2"))
        writer.set("tokenizer.ggml.pre", .string("default"))
        writer.set("tokenizer.ggml.tokens", .array(tokens.map { .string($0) }))
        writer.set("tokenizer.ggml.token_type", .array(tokenTypes.map { .int32($0) }))
        writer.set("tokenizer.ggml.merges", .array(merges.map { .string($0) }))
        if let bos { writer.set("tokenizer.ggml.bos_token_id", .uint32(UInt32(bos))) }
        if let first = eos.first { writer.set("tokenizer.ggml.eos_token_id", .uint32(UInt32(first))) }
        if eos.count > 1 { writer.set("tokenizer.ggml.eot_token_id", .uint32(UInt32(eos[1]))) }
        writer.set("tokenizer.ggml.add_bos_token", .bool(false))
    }

    /// An HF `tokenizer.json` (BPE model, ByteLevel pre-tokenizer and decoder, `<|endoftext|>` as a special
    /// added token).
    public func tokenizerJSON() -> String {
        var vocab: [String: Int] = [:]
        for (i, t) in tokens.enumerated() { vocab[t] = i }
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                                        "use_regex": true]
        let object: [String: Any] = [
            "version": "1.0",
            "truncation": NSNull(), "padding": NSNull(), "normalizer": NSNull(), "post_processor": NSNull(),
            "added_tokens": [["id": 0, "content": tokens[0], "single_word": false, "lstrip": false, "rstrip": false,
                              "normalized": false, "special": true] as [String: Any]],
            "pre_tokenizer": byteLevel,
            "decoder": byteLevel,
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(),
                      "continuing_subword_prefix": NSNull(), "end_of_word_suffix": NSNull(), "fuse_unk": false,
                      "byte_fallback": false, "ignore_merges": false, "vocab": vocab,
                      "merges": merges.map { $0.split(separator: " ").map(String.init) }] as [String: Any],
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
