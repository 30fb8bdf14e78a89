import Foundation
import Tensors

/// The haystacks the facts hide in. Several, so that no result depends on one filler: each sample
/// of a cell takes the next filler in turn, and the rows report the score per filler too.
public enum SuiteFiller: String, CaseIterable, Codable, Sendable, Hashable {
    /// The classic passkey sentences ("The grass is green. …"), repeated.
    case noise
    /// Real prose: Ambrose Bierce's *The Devil's Dictionary* (public domain), from Debian's
    /// `dict-devil` package, read consecutively from a seeded starting sentence.
    case devil
    /// Seeded sentences of pronounceable made-up words (no meaning, no repetition).
    case words

    public static var choices: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Where Debian's `dict-devil` installs the text (dictzip, which gzip reads).
    public static let devilPath = "/usr/share/dictd/devil.dict.dz"
}

/// A filler's sentences, loaded once per run.
public struct FillerText: Sendable {
    public let filler: SuiteFiller
    /// For `noise` and `devil`; `words` makes its sentences from the seed.
    let sentences: [String]

    static let noiseSentences = ["The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.",
                                 "There and back again."]

    init(filler: SuiteFiller, sentences: [String]) {
        self.filler = filler
        self.sentences = sentences
    }

    /// Loads `filler`; `devil` reads `devilPath` (through `gzip -dc`).
    /// - Throws: `HarnessError.fillerUnavailable` when the package is not installed or unreadable.
    public static func load(_ filler: SuiteFiller, devilPath: String = SuiteFiller.devilPath) throws(HarnessError) -> FillerText {
        switch filler {
        case .noise: return FillerText(filler: filler, sentences: noiseSentences)
        case .words: return FillerText(filler: filler, sentences: [])
        case .devil:
            guard FileManager.default.isReadableFile(atPath: devilPath) else {
                throw .fillerUnavailable(filler: filler.rawValue, path: devilPath,
                                         reason: "not installed (apt-get install dict-devil; scripts/setup.sh does), or pass --fillers noise,words")
            }
            let text = try gunzip(devilPath)
            let sentences = proseSentences(text)
            guard sentences.count >= 100 else {
                throw .fillerUnavailable(filler: filler.rawValue, path: devilPath,
                                         reason: "only \(sentences.count) usable sentences")
            }
            return FillerText(filler: filler, sentences: sentences)
        }
    }

    /// Sentences of ordinary prose from a plain text: whitespace collapsed, italics marks dropped,
    /// split after . ? or !, keeping sentences of 30–300 characters that are mostly lowercase
    /// (which drops the dictionary's headwords and the file's header).
    static func proseSentences(_ text: String) -> [String] {
        let flat = text.replacingOccurrences(of: "_", with: "")
            .split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        var out: [String] = []
        var current = ""
        for ch in flat {
            current.append(ch)
            if ch == "." || ch == "?" || ch == "!" {
                let s = current.trimmingCharacters(in: .whitespaces)
                current = ""
                let letters = s.filter(\.isLetter)
                let upper = letters.filter(\.isUppercase).count
                if (30...300).contains(s.count), letters.count > 20, upper * 8 < letters.count,
                   s.first?.isUppercase == true {
                    out.append(s)
                }
            }
        }
        return out
    }

    private static func gunzip(_ path: String) throws(HarnessError) -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["gzip", "-dc", path]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch {
            throw .fillerUnavailable(filler: "devil", path: path, reason: "cannot run gzip: \(error)")
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let text = String(data: data, encoding: .utf8), !text.isEmpty else {
            throw .fillerUnavailable(filler: "devil", path: path, reason: "gzip -dc failed (status \(p.terminationStatus))")
        }
        return text
    }

    /// An endless, seeded stream of this filler's sentences.
    public func stream(seed: UInt64) -> SentenceStream {
        var rng = SplitMix64(seed: seed)
        let start = filler == .devil ? rng.below(sentences.count) : 0
        return SentenceStream(text: self, index: start, rng: rng)
    }
}

/// The next sentence of a filler, forever.
public struct SentenceStream: Sendable {
    let text: FillerText
    var index: Int
    var rng: SplitMix64

    public mutating func next() -> String {
        if text.filler == .words {
            let count = 5 + rng.below(6)
            var words = (0..<count).map { _ in PseudoWords.word(&rng) }
            words[0] = words[0].prefix(1).uppercased() + words[0].dropFirst()
            return words.joined(separator: " ") + "."
        }
        defer { index = (index + 1) % text.sentences.count }
        return text.sentences[index]
    }
}

/// Pronounceable made-up words (consonant–vowel syllables): keys, names and list words that the
/// model cannot know beforehand.
enum PseudoWords {
    static let consonants = Array("bdfgklmnprstvz")
    static let vowels = Array("aeiou")

    static func word(_ rng: inout SplitMix64, syllables: Int? = nil) -> String {
        let n = syllables ?? (2 + rng.below(2))
        return String((0..<n).flatMap { _ in [consonants[rng.below(consonants.count)], vowels[rng.below(vowels.count)]] })
    }

    /// `count` distinct words.
    static func distinct(_ count: Int, _ rng: inout SplitMix64, syllables: Int = 3) -> [String] {
        var seen = Set<String>(), out: [String] = []
        while out.count < count {
            let w = word(&rng, syllables: syllables)
            if seen.insert(w).inserted { out.append(w) }
        }
        return out
    }
}

extension SplitMix64 {
    /// Uniform in 0..<n (n ≥ 1), by modulo: the bias (< n / 2⁶⁴) does not matter here, and unlike
    /// `Int.random(in:using:)` the result is fixed by this code, not by the standard library.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }

    /// A seeded Fisher–Yates shuffle.
    mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, below(i + 1)) }
    }
}
