import Foundation
import FuzzSupport
import Tokenization

// An HF tokenizer.json from disk is hostile: Tokenizer(tokenizerJSON:) (JSON decoding, the pipeline
// stages it accepts, ids, merges, added tokens), then encode and decode of a fixed text, which walks
// the vocabulary and merges the file defined. Bad input must be a thrown TokenizationError.

let scratch = ScratchFile(suffix: "-tokenizer.json")
let text = "Hello world, hello wörld 123 ab ll <|endoftext|> \n\t ✓"

func run(_ bytes: UnsafeRawBufferPointer) -> String? {
    scratch.write(bytes)
    do {
        let tokenizer = try Tokenizer(tokenizerJSON: scratch.url)
        let ids = tokenizer.encode(text)
        _ = tokenizer.decode(ids)
        _ = tokenizer.decode(ids, skipSpecial: true)
        return nil
    } catch {
        return "\(error)"
    }
}

func tokenizerJSON(preTokenizer: String, postProcessor: String) -> [UInt8] {
    let letters = "abcdefghijklmnopqrstuvwxyz".map(String.init)
    let tokens = ["<|endoftext|>", "Ġ"] + letters + letters.map { $0.uppercased() } + (0 ... 9).map(String.init)
        + ["ab", "ll", "Ġa"]
    let vocab = tokens.enumerated().map { #""\#($1)":\#($0)"# }.joined(separator: ",")
    let json = """
    {"version":"1.0","truncation":null,"padding":null,"normalizer":null,
     "added_tokens":[{"id":0,"content":"<|endoftext|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
     "pre_tokenizer":\(preTokenizer),"post_processor":\(postProcessor),
     "decoder":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},
     "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,
              "fuse_unk":false,"byte_fallback":false,"ignore_merges":false,"vocab":{\(vocab)},
              "merges":[["a","b"],["l","l"],["Ġ","a"]]}}
    """
    return Array(json.utf8)
}

func seeds() throws -> [Seed] {
    let byteLevel = #"{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}"#
    let smollm = #"{"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},"# + byteLevel + "]}"
    let template = #"{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<|endoftext|>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[],"special_tokens":{}}"#
    return [Seed("gpt2-bytelevel", tokenizerJSON(preTokenizer: byteLevel, postProcessor: "null")),
            Seed("smollm-digits", tokenizerJSON(preTokenizer: smollm, postProcessor: template))]
}

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>,
                       _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    SeedCorpus.handleEnvironment(target: "FuzzTokenizerJSON", seeds: seeds) { bytes in bytes.withUnsafeBytes(run) }
    atexit { scratch.remove() }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = run(UnsafeRawBufferPointer(start: size == 0 ? nil : data, count: size))
    return 0
}
