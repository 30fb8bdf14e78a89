/// Everything that can go wrong while building a tokenizer. Encoding and decoding never fail: once a
/// tokenizer exists, every `String` encodes and every id sequence decodes (unknown ids decode to nothing).
///
/// Cases carry the file or metadata key at fault and what was expected against what was found, so the
/// message alone tells a user which file to fix.
public enum TokenizationError: Error, CustomStringConvertible, Equatable {
    /// A file the caller named does not exist.
    case fileNotFound(path: String)
    /// A file exists but could not be read.
    case unreadableFile(path: String, reason: String)
    /// The file is not valid JSON, or a field has the wrong shape (`detail` names the field).
    case malformedJSON(path: String, detail: String)
    /// tokenizer.json's `model.type` is not byte-level BPE (e.g. WordPiece, Unigram).
    case unsupportedModelType(path: String, type: String)
    /// A BPE model with options this byte-level implementation does not have
    /// (e.g. SentencePiece-style `byte_fallback`, `continuing_subword_prefix`).
    case unsupportedModelOption(path: String, option: String)
    /// tokenizer.json's normalizer, pre-tokenizer or decoder is not one we implement.
    case unsupportedPipelineStage(path: String, stage: String, found: String)
    /// A `Split` pre-tokenizer whose regex is neither the GPT-2 nor the Llama-3 pattern.
    case unsupportedSplitPattern(path: String, pattern: String)
    /// A GGUF `tokenizer.ggml.pre` (or other pre-tokenizer name) we have no scanner for.
    case unknownPreTokenizer(name: String, supported: [String])
    /// GGUF `tokenizer.ggml.model` is not `gpt2` (byte-level BPE); `llama` is SentencePiece.
    case unsupportedGGUFTokenizerModel(name: String)
    /// The vocabulary is empty.
    case emptyVocabulary(source: String)
    /// `tokens` and `tokenTypes` have different lengths.
    case tokenTypeCountMismatch(tokens: Int, tokenTypes: Int)
    /// A merge rule is not two tokens separated by a space, or names a token missing from the vocabulary.
    case invalidMerge(source: String, index: Int, merge: String, reason: String)
    /// A special token id (`bos`, `eos`, `eot`, an added token) outside the vocabulary.
    case tokenIdOutOfRange(source: String, name: String, id: Int64, vocabularySize: Int)
    /// A special token given by text (e.g. tokenizer_config.json's `eos_token`) that is not in the vocabulary.
    case unknownSpecialToken(source: String, name: String, text: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "tokenizer file not found: \(path)"
        case .unreadableFile(let path, let reason):
            return "cannot read tokenizer file \(path): \(reason)"
        case .malformedJSON(let path, let detail):
            return "malformed tokenizer JSON \(path): \(detail)"
        case .unsupportedModelType(let path, let type):
            return "\(path): tokenizer model type '\(type)' is not supported (only byte-level BPE is)"
        case .unsupportedModelOption(let path, let option):
            return "\(path): BPE option \(option) is not supported (only GPT-2 style byte-level BPE is)"
        case .unsupportedPipelineStage(let path, let stage, let found):
            return "\(path): unsupported \(stage): \(found)"
        case .unsupportedSplitPattern(let path, let pattern):
            return "\(path): unsupported pre-tokenizer Split pattern \(pattern) "
                + "(supported: the GPT-2 and Llama-3 patterns)"
        case .unknownPreTokenizer(let name, let supported):
            return "unknown pre-tokenizer '\(name)'; supported: \(supported.joined(separator: ", "))"
        case .unsupportedGGUFTokenizerModel(let name):
            return "GGUF tokenizer.ggml.model '\(name)' is not supported (only 'gpt2', byte-level BPE, is; "
                + "'llama' is SentencePiece)"
        case .emptyVocabulary(let source):
            return "\(source): the vocabulary is empty"
        case .tokenTypeCountMismatch(let tokens, let tokenTypes):
            return "token list has \(tokens) entries but token types has \(tokenTypes)"
        case .invalidMerge(let source, let index, let merge, let reason):
            return "\(source): merge #\(index) '\(merge)': \(reason)"
        case .tokenIdOutOfRange(let source, let name, let id, let vocabularySize):
            return "\(source): \(name) id \(id) is outside the vocabulary (size \(vocabularySize))"
        case .unknownSpecialToken(let source, let name, let text):
            return "\(source): \(name) '\(text)' is not in the vocabulary"
        }
    }
}
