import Foundation

/// Building a tokenizer from an HF `tokenizer.json` (the serialisation of the Rust `tokenizers` crate)
/// and, optionally, its `tokenizer_config.json` (transformers' settings: BOS/EOS text, chat template).
///
/// Only the byte-level BPE pipeline is accepted: no normalizer; a `ByteLevel`, `Digits + ByteLevel` or
/// GPT-2/Llama-3 `Split` pre-tokenizer; a BPE model without SentencePiece options; a `ByteLevel` decoder.
/// Anything else is refused with an error naming the file and the stage, rather than tokenized wrongly.
extension Tokenizer {
    /// - Parameters:
    ///   - url: the tokenizer.json.
    ///   - tokenizerConfig: tokenizer_config.json, for `bos_token`, `eos_token`, `add_bos_token` and
    ///     `chat_template`. Without it BOS/EOS are unset (except a BOS that the post-processor inserts) and
    ///     `stopTokenIds` holds only the well-known end-of-turn tokens.
    /// - Throws: `TokenizationError` naming the file: missing, unreadable, malformed, or unsupported.
    public convenience init(tokenizerJSON url: URL, tokenizerConfig: URL? = nil) throws {
        let path = url.path
        let file: HFTokenizerFile = try HFJSON.decode(HFTokenizerFile.self, from: url)
        let config: HFTokenizerConfig? = try tokenizerConfig.map { try HFJSON.decode(HFTokenizerConfig.self, from: $0) }

        // Model: byte-level BPE only.
        let model = file.model
        let type = model.type ?? (model.merges != nil ? "BPE" : "unknown")
        guard type == "BPE" else { throw TokenizationError.unsupportedModelType(path: path, type: type) }
        if model.byteFallback == true {
            throw TokenizationError.unsupportedModelOption(
                path: path, option: "byte_fallback (SentencePiece-style BPE with ▁ and <0xNN> byte tokens)")
        }
        if let prefix = model.continuingSubwordPrefix, !prefix.isEmpty {
            throw TokenizationError.unsupportedModelOption(path: path, option: "continuing_subword_prefix '\(prefix)'")
        }
        if let suffix = model.endOfWordSuffix, !suffix.isEmpty {
            throw TokenizationError.unsupportedModelOption(path: path, option: "end_of_word_suffix '\(suffix)'")
        }
        if let dropout = model.dropout, dropout > 0 {
            throw TokenizationError.unsupportedModelOption(path: path, option: "dropout \(dropout)")
        }
        guard let vocab = model.vocab else {
            throw TokenizationError.malformedJSON(path: path, detail: "model.vocab is missing")
        }

        // Other stages.
        if let normalizer = file.normalizer {
            throw TokenizationError.unsupportedPipelineStage(path: path, stage: "normalizer", found: normalizer.summary)
        }
        guard let preSpec = file.preTokenizer else {
            throw TokenizationError.unsupportedPipelineStage(path: path, stage: "pre_tokenizer", found: "null")
        }
        let preTokenizer = try HFJSON.preTokenizer(from: preSpec, path: path)
        guard let decoder = file.decoder, decoder.type == "ByteLevel" else {
            throw TokenizationError.unsupportedPipelineStage(path: path, stage: "decoder",
                                                             found: file.decoder?.summary ?? "null")
        }

        // Vocabulary: model.vocab plus added tokens, by id.
        var size = 0
        for id in vocab.values { size = max(size, Int(id) + 1) }
        for token in file.addedTokens ?? [] { size = max(size, Int(token.id) + 1) }
        if let bad = vocab.first(where: { $0.value < 0 }) {
            throw TokenizationError.malformedJSON(path: path, detail: "model.vocab['\(bad.key)'] has negative id \(bad.value)")
        }
        // Ids index an array: a stray huge id must not make us allocate gigabytes.
        let entryCount = vocab.count + (file.addedTokens?.count ?? 0)
        guard size <= 2 * entryCount + 1024 else {
            throw TokenizationError.malformedJSON(
                path: path, detail: "largest token id \(size - 1) is far beyond the \(entryCount) tokens defined")
        }
        var tokens = [String](repeating: "", count: size)
        for (text, id) in vocab { tokens[Int(id)] = text }
        var added: [Int32: Bool] = [:]
        for token in file.addedTokens ?? [] {
            guard token.id >= 0 else {
                throw TokenizationError.malformedJSON(path: path, detail: "added token '\(token.content)' has negative id")
            }
            tokens[Int(token.id)] = token.content
            added[token.id] = token.special ?? false
        }

        // BOS/EOS by text: added tokens first, then the vocabulary.
        func id(of text: String, name: String, source: String) throws -> Int32 {
            if let token = file.addedTokens?.first(where: { $0.content == text }) { return token.id }
            if let id = vocab[text] { return id }
            throw TokenizationError.unknownSpecialToken(source: source, name: name, text: text)
        }
        let configPath = tokenizerConfig?.path ?? path
        var bos = try config?.bosToken?.content.map { try id(of: $0, name: "bos_token", source: configPath) }
        let eos = try config?.eosToken?.content.map { try id(of: $0, name: "eos_token", source: configPath) }
        // A post-processor template that starts with a special token prepends BOS (Llama 3).
        var addBOS = false
        if let bosText = file.postProcessor?.leadingSpecialToken {
            addBOS = true
            if bos == nil { bos = try id(of: bosText, name: "post_processor special token", source: path) }
        }
        if let explicit = config?.addBOSToken { addBOS = explicit }

        try self.init(parts: Parts(
            tokens: tokens, addedTokens: added, merges: model.merges?.pairs ?? [],
            preTokenizer: preTokenizer, ignoreMerges: model.ignoreMerges ?? false,
            bosTokenId: bos, eosTokenId: eos, eotTokenId: nil, addBOS: addBOS,
            chatTemplate: config?.chatTemplate?.defaultTemplate, source: path))
    }
}

/// Reading and interpreting the JSON files.
enum HFJSON {
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    static func decode<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw TokenizationError.fileNotFound(path: path) }
        // An empty file is refused by name before it is read: a clearer message than the decoder's, and
        // Foundation's Data(contentsOf:) leaks its 4 KiB read buffer on an empty file (found by FuzzTokenizerJSON).
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
        guard size != 0 else { throw TokenizationError.malformedJSON(path: path, detail: "the file is empty") }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizationError.unreadableFile(path: path, reason: "\(error.localizedDescription)")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw TokenizationError.malformedJSON(path: path, detail: describe(error))
        } catch {
            throw TokenizationError.malformedJSON(path: path, detail: "\(error)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func at(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return path.isEmpty ? "" : " at \(path.hasPrefix(".") ? String(path.dropFirst()) : path)"
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "expected \(type)\(at(context)): \(context.debugDescription)"
        case .valueNotFound(let type, let context):
            return "missing \(type) value\(at(context))"
        case .keyNotFound(let key, let context):
            return "missing key '\(key.stringValue)'\(at(context))"
        case .dataCorrupted(let context):
            return "\(context.debugDescription)\(at(context))"
        @unknown default:
            return "\(error)"
        }
    }

    /// Maps tokenizer.json's pre-tokenizer to one of our scanners.
    static func preTokenizer(from spec: HFPreTokenizer, path: String) throws -> PreTokenizer {
        let stages = spec.type == "Sequence" ? (spec.pretokenizers ?? []) : [spec]
        func unsupported() -> TokenizationError {
            .unsupportedPipelineStage(path: path, stage: "pre_tokenizer", found: spec.summary)
        }
        for stage in stages where stage.type == "ByteLevel" && stage.addPrefixSpace == true {
            throw TokenizationError.unsupportedPipelineStage(path: path, stage: "pre_tokenizer",
                                                             found: "ByteLevel with add_prefix_space: true")
        }
        func isByteLevel(_ stage: HFPreTokenizer, regex: Bool) -> Bool {
            stage.type == "ByteLevel" && (stage.useRegex ?? true) == regex
        }
        func splitScanner(_ stage: HFPreTokenizer) throws -> PreTokenizer? {
            guard stage.type == "Split" else { return nil }
            guard let pattern = stage.pattern?.regex else { throw unsupported() }
            guard stage.invert != true, (stage.behavior ?? "Isolated") == "Isolated" else { throw unsupported() }
            switch pattern {
            case gpt2Pattern: return .gpt2
            case llama3Pattern: return .llama3
            default: throw TokenizationError.unsupportedSplitPattern(path: path, pattern: pattern)
            }
        }

        switch stages.count {
        case 1:
            if isByteLevel(stages[0], regex: true) { return .gpt2 }
            if let scanner = try splitScanner(stages[0]) { return scanner }
        case 2:
            if stages[0].type == "Digits", stages[0].individualDigits == true, isByteLevel(stages[1], regex: true) {
                return .smollm
            }
            if let scanner = try splitScanner(stages[0]), isByteLevel(stages[1], regex: false) { return scanner }
        default:
            break
        }
        throw unsupported()
    }
}

// MARK: JSON shapes (only the fields we read)

struct HFTokenizerFile: Decodable {
    var model: HFModel
    var addedTokens: [HFAddedToken]?
    var normalizer: HFStage?
    var preTokenizer: HFPreTokenizer?
    var postProcessor: HFPostProcessor?
    var decoder: HFStage?

    enum CodingKeys: String, CodingKey {
        case model, normalizer, decoder
        case addedTokens = "added_tokens", preTokenizer = "pre_tokenizer", postProcessor = "post_processor"
    }
}

struct HFModel: Decodable {
    var type: String?
    var vocab: [String: Int32]?
    var merges: HFMerges?
    var byteFallback: Bool?
    var continuingSubwordPrefix: String?
    var endOfWordSuffix: String?
    var ignoreMerges: Bool?
    var dropout: Double?

    enum CodingKeys: String, CodingKey {
        case type, vocab, merges, dropout
        case byteFallback = "byte_fallback", continuingSubwordPrefix = "continuing_subword_prefix"
        case endOfWordSuffix = "end_of_word_suffix", ignoreMerges = "ignore_merges"
    }

    /// Reads the type first: WordPiece/Unigram vocabularies have other shapes, and should be reported as
    /// unsupported models rather than as malformed files.
    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decodeIfPresent(String.self, forKey: .type)
        guard type == nil || type == "BPE" else { return }
        vocab = try container.decodeIfPresent([String: Int32].self, forKey: .vocab)
        merges = try container.decodeIfPresent(HFMerges.self, forKey: .merges)
        byteFallback = try container.decodeIfPresent(Bool.self, forKey: .byteFallback)
        continuingSubwordPrefix = try container.decodeIfPresent(String.self, forKey: .continuingSubwordPrefix)
        endOfWordSuffix = try container.decodeIfPresent(String.self, forKey: .endOfWordSuffix)
        ignoreMerges = try container.decodeIfPresent(Bool.self, forKey: .ignoreMerges)
        dropout = try container.decodeIfPresent(Double.self, forKey: .dropout)
    }
}

/// The merge rules: `["a b", …]` (tokenizers < 0.20) or `[["a", "b"], …]` (newer files, which allow spaces
/// in tokens). Decoded as a whole list so that the wrong guess throws once, not once per rule.
struct HFMerges: Decodable {
    var pairs: [(String, String)]

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let lists = try? container.decode([[String]].self) {
            pairs = []
            pairs.reserveCapacity(lists.count)
            for (index, list) in lists.enumerated() {
                guard list.count == 2 else {
                    throw DecodingError.dataCorruptedError(
                        in: container, debugDescription: "merge #\(index) has \(list.count) parts, expected 2")
                }
                pairs.append((list[0], list[1]))
            }
        } else {
            let strings = try container.decode([String].self)
            pairs = []
            pairs.reserveCapacity(strings.count)
            for (index, text) in strings.enumerated() {
                let parts = text.utf8.split(separator: UInt8(ascii: " "), maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw DecodingError.dataCorruptedError(
                        in: container, debugDescription: "merge #\(index) '\(text)' is not 'a b'")
                }
                pairs.append((String(decoding: parts[0], as: UTF8.self), String(decoding: parts[1], as: UTF8.self)))
            }
        }
    }
}

struct HFAddedToken: Decodable {
    var id: Int32
    var content: String
    var special: Bool?
}

/// A normalizer or decoder: we only look at its type.
struct HFStage: Decodable {
    var type: String?
    var summary: String { type ?? "(no type)" }
}

struct HFPreTokenizer: Decodable {
    var type: String?
    var pretokenizers: [HFPreTokenizer]?
    var individualDigits: Bool?
    var addPrefixSpace: Bool?
    var useRegex: Bool?
    var pattern: HFPattern?
    var behavior: String?
    var invert: Bool?

    enum CodingKeys: String, CodingKey {
        case type, pretokenizers, pattern, behavior, invert
        case individualDigits = "individual_digits", addPrefixSpace = "add_prefix_space", useRegex = "use_regex"
    }

    /// A short description for error messages, e.g. `Sequence[Digits(individual_digits: false), ByteLevel]`.
    var summary: String {
        let name = type ?? "(no type)"
        switch name {
        case "Sequence": return "Sequence[\((pretokenizers ?? []).map(\.summary).joined(separator: ", "))]"
        case "Digits": return "Digits(individual_digits: \(individualDigits ?? false))"
        case "ByteLevel": return "ByteLevel(use_regex: \(useRegex ?? true))"
        case "Split": return "Split(pattern: \(pattern?.regex ?? pattern?.string.map { "'\($0)'" } ?? "?"), "
            + "behavior: \(behavior ?? "?"), invert: \(invert ?? false))"
        default: return name
        }
    }
}

struct HFPattern: Decodable {
    var regex: String?
    var string: String?
    enum CodingKeys: String, CodingKey { case regex = "Regex", string = "String" }
}

struct HFPostProcessor: Decodable {
    var type: String?
    var processors: [HFPostProcessor]?
    var single: [HFTemplatePiece]?

    /// The special token a `TemplateProcessing` puts before the text, if any (Llama 3: `<|begin_of_text|>`).
    var leadingSpecialToken: String? {
        if let processors { return processors.lazy.compactMap(\.leadingSpecialToken).first }
        guard type == "TemplateProcessing", let first = single?.first else { return nil }
        return first.specialToken?.id
    }
}

struct HFTemplatePiece: Decodable {
    struct Special: Decodable { var id: String }
    var specialToken: Special?
    enum CodingKeys: String, CodingKey { case specialToken = "SpecialToken" }
}

struct HFTokenizerConfig: Decodable {
    /// `"<s>"`, `{"content": "<s>", …}` or null.
    struct TokenText: Decodable {
        var content: String?
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                content = nil
            } else if let text = try? container.decode(String.self) {
                content = text
            } else {
                struct Object: Decodable { var content: String }
                content = try container.decode(Object.self).content
            }
        }
    }

    /// A template string, or a list of named templates (`[{"name": "default", "template": …}]`).
    struct Template: Decodable {
        var defaultTemplate: String?
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                defaultTemplate = text
            } else {
                struct Named: Decodable { var name: String; var template: String }
                let named = try container.decode([Named].self)
                defaultTemplate = (named.first { $0.name == "default" } ?? named.first)?.template
            }
        }
    }

    var bosToken: TokenText?
    var eosToken: TokenText?
    var addBOSToken: Bool?
    var chatTemplate: Template?

    enum CodingKeys: String, CodingKey {
        case bosToken = "bos_token", eosToken = "eos_token", addBOSToken = "add_bos_token", chatTemplate = "chat_template"
    }
}
