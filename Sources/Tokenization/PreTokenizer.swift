/// How text is cut into words before BPE runs on each word. BPE never merges across a word boundary, so
/// the split decides, for example, whether `" 1"` can ever be one token.
///
/// The three schemes are the regexes below, implemented as hand-written scanners over Unicode scalars
/// (see `PreTokenizer+Scanners.swift`; Swift `Regex` is far too slow for long prompts):
/// - `gpt2`: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
///   (openai/gpt-2 `encoder.py`; HF `ByteLevel(use_regex: true)`; llama.cpp `LLAMA_VOCAB_PRE_TYPE_GPT2`).
/// - `llama3` (`llama-bpe`): `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|`
///   ` ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+` (Meta Llama 3 `tokenizer.py`).
/// - `smollm`: every `\p{N}` scalar is its own word, then `gpt2` runs on each stretch between digits
///   (llama.cpp `LLAMA_VOCAB_PRE_TYPE_SMOLLM`; HF `Sequence[Digits(individual_digits), ByteLevel]`).
///   This changes more than digits: `"a  1"` is `[a, "  ", 1]` here but `[a, " ", " 1"]` under `gpt2`.
///
/// `\s` is the Unicode `White_Space` property, `\p{L}`/`\p{N}` the general categories L* and N*, as in
/// Python's `regex` module and the Oniguruma engine HF tokenizers uses.
public enum PreTokenizer: String, Sendable, CaseIterable {
    case gpt2
    case llama3 = "llama-bpe"
    case smollm

    /// The GGUF `tokenizer.ggml.pre` values we accept, and the scanner each maps to. The names follow
    /// llama.cpp `llama-vocab.cpp`, which uses exactly these regexes for them. `default` maps to `gpt2`
    /// [port]: llama.cpp's `default` is a different four-regex cascade, but GGUF converters write `default`
    /// only for GPT-2 style vocabularies they did not recognise, where GPT-2's split is the right guess.
    public static let ggufNames: [String: PreTokenizer] = [
        "default": .gpt2, "gpt2": .gpt2, "gpt-2": .gpt2, "phi-2": .gpt2, "roberta-bpe": .gpt2,
        "jina-es": .gpt2, "jina-de": .gpt2, "jina-v1-en": .gpt2, "jina-v2-es": .gpt2, "jina-v2-de": .gpt2,
        "jina-v2-code": .gpt2, "gigachat": .gpt2,
        "llama-bpe": .llama3, "llama3": .llama3, "llama-v3": .llama3, "falcon3": .llama3,
        "smollm": .smollm,
    ]

    /// Reads a GGUF `tokenizer.ggml.pre` value (or one of our raw values).
    /// - Throws: `TokenizationError.unknownPreTokenizer` listing the supported names.
    public init(ggufName name: String) throws {
        guard let known = PreTokenizer.ggufNames[name] ?? PreTokenizer(rawValue: name) else {
            throw TokenizationError.unknownPreTokenizer(name: name, supported: PreTokenizer.ggufNames.keys.sorted())
        }
        self = known
    }

    /// Whether BPE should look a whole word up in the vocabulary before merging (HF `ignore_merges`,
    /// llama.cpp `tokenizer_ignore_merges`). Llama 3's vocabulary needs it: some of its words are tokens
    /// that the merge list alone would not reach.
    var ignoresMerges: Bool { self == .llama3 }

    /// Cuts `text` into words. Concatenating the result gives `text` back.
    public func split(_ text: String) -> [String] {
        let scalars = ScalarText(text)
        var ranges: [Range<Int>] = []
        split(scalars, in: 0..<scalars.count, into: &ranges)
        return ranges.map { range in
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars.scalars[range])
            return String(view)
        }
    }

    /// Appends the words of `scalars[range]` as scalar-index ranges. The range is treated as the whole
    /// string: a lookahead at its end sees end-of-text, as when HF runs the regex on one added-token split.
    func split(_ text: ScalarText, in range: Range<Int>, into words: inout [Range<Int>]) {
        switch self {
        case .gpt2:
            Scanner.gpt2(text, range, &words)
        case .llama3:
            Scanner.llama3(text, range, &words)
        case .smollm:
            var start = range.lowerBound
            for index in range where text.kinds[index] == .number {
                if start < index { Scanner.gpt2(text, start..<index, &words) }
                words.append(index..<(index + 1))
                start = index + 1
            }
            if start < range.upperBound { Scanner.gpt2(text, start..<range.upperBound, &words) }
        }
    }
}

/// The scalars of a text with their regex character classes and UTF-8 offsets, computed once per encode.
struct ScalarText {
    enum Kind: UInt8 { case letter, number, whitespace, other }

    var scalars: [Unicode.Scalar] = []
    var kinds: [Kind] = []
    /// `utf8Offsets[i]` is where scalar `i` starts in the UTF-8 bytes; one extra entry holds the total.
    var utf8Offsets: [Int] = []

    var count: Int { scalars.count }

    init(_ text: String) {
        let expected = text.utf8.count
        scalars.reserveCapacity(expected)
        kinds.reserveCapacity(expected)
        utf8Offsets.reserveCapacity(expected + 1)
        var offset = 0
        for scalar in text.unicodeScalars {
            scalars.append(scalar)
            kinds.append(ScalarText.kind(of: scalar))
            utf8Offsets.append(offset)
            offset += UTF8.width(scalar)
        }
        utf8Offsets.append(offset)
    }

    private static let asciiKinds: [Kind] = (0..<128).map { slowKind(of: Unicode.Scalar(UInt8($0))) }

    @inline(__always)
    static func kind(of scalar: Unicode.Scalar) -> Kind {
        scalar.value < 128 ? asciiKinds[Int(scalar.value)] : slowKind(of: scalar)
    }

    private static func slowKind(of scalar: Unicode.Scalar) -> Kind {
        let properties = scalar.properties
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return properties.isWhitespace ? .whitespace : .other
        }
    }
}
