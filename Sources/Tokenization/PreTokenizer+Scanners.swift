/// Hand-written equivalents of the GPT-2 and Llama-3 pre-tokenizer regexes.
///
/// Each function finds the match at position `i` the way a backtracking engine does: alternatives are tried
/// in order and the first that matches wins, quantifiers are greedy. llama.cpp does the same in
/// `unicode.cpp` (`unicode_regex_split_custom_gpt2/llama3`). Every alternative set covers every scalar, so
/// matches tile the range with no gaps. The tests compare against Python's `regex` module on tricky input.
enum Scanner {
    private static let apostrophe: UInt32 = 0x27, space: UInt32 = 0x20, cr: UInt32 = 0x0D, lf: UInt32 = 0x0A

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    static func gpt2(_ text: ScalarText, _ range: Range<Int>, _ words: inout [Range<Int>]) {
        let end = range.upperBound
        var i = range.lowerBound
        while i < end {
            let length = gpt2Match(text, at: i, end: end)
            words.append(i..<(i + length))
            i += length
        }
    }

    private static func gpt2Match(_ text: ScalarText, at i: Int, end: Int) -> Int {
        let kinds = text.kinds
        let c = text.scalars[i].value
        // 's|'t|'re|'ve|'m|'ll|'d (case-sensitive)
        if c == apostrophe, let length = contraction(text, at: i, end: end, ignoringCase: false) {
            return length
        }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space, then a run of one class.
        var j = i
        if c == space, i + 1 < end, kinds[i + 1] != .whitespace { j = i + 1 }
        let kind = kinds[j]
        if kind != .whitespace {
            return run(of: kind, text, from: j, end: end) - i
        }
        // `\s+(?!\S)` keeps the last space of a run for the next word unless the run ends the text;
        // `\s+` takes a lone whitespace scalar before a non-space.
        return whitespaceMatch(text, at: i, end: end)
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|`
    /// `\s*[\r\n]+|\s+(?!\S)|\s+`
    static func llama3(_ text: ScalarText, _ range: Range<Int>, _ words: inout [Range<Int>]) {
        let end = range.upperBound
        var i = range.lowerBound
        while i < end {
            let length = llama3Match(text, at: i, end: end)
            words.append(i..<(i + length))
            i += length
        }
    }

    private static func llama3Match(_ text: ScalarText, at i: Int, end: Int) -> Int {
        let kinds = text.kinds, scalars = text.scalars
        let c = scalars[i].value
        let kind = kinds[i]
        // (?i:'s|'t|'re|'ve|'m|'ll|'d) — ASCII case folding only, as llama.cpp does.
        if c == apostrophe, let length = contraction(text, at: i, end: end, ignoringCase: true) {
            return length
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if kind == .letter {
            return run(of: .letter, text, from: i, end: end) - i
        }
        if kind != .number, c != cr, c != lf, i + 1 < end, kinds[i + 1] == .letter {
            return run(of: .letter, text, from: i + 1, end: end) - i
        }
        // \p{N}{1,3}
        if kind == .number {
            var j = i + 1
            while j < end, j < i + 3, kinds[j] == .number { j += 1 }
            return j - i
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        var j = i
        if c == space, i + 1 < end, kinds[i + 1] == .other { j = i + 1 }
        if kinds[j] == .other {
            j = run(of: .other, text, from: j, end: end)
            while j < end, scalars[j].value == cr || scalars[j].value == lf { j += 1 }
            return j - i
        }
        // Only whitespace is left. `\s*[\r\n]+`: the run of whitespace up to and including its last newline.
        let runEnd = run(of: .whitespace, text, from: i, end: end)
        var k = runEnd - 1
        while k >= i {
            if scalars[k].value == cr || scalars[k].value == lf { return k + 1 - i }
            k -= 1
        }
        return whitespaceMatch(text, at: i, end: end)
    }

    /// `\s+(?!\S)|\s+` at a whitespace scalar.
    private static func whitespaceMatch(_ text: ScalarText, at i: Int, end: Int) -> Int {
        let runEnd = run(of: .whitespace, text, from: i, end: end)
        if runEnd == end { return runEnd - i }       // the lookahead sees end-of-text
        if runEnd - i >= 2 { return runEnd - 1 - i }  // backtrack one so a non-space follows no space
        return 1
    }

    /// The end of the run of `kind` starting at `start`.
    @inline(__always)
    private static func run(of kind: ScalarText.Kind, _ text: ScalarText, from start: Int, end: Int) -> Int {
        var j = start
        while j < end, text.kinds[j] == kind { j += 1 }
        return j
    }

    /// The length of `'s|'t|'re|'ve|'m|'ll|'d` at an apostrophe, or nil.
    private static func contraction(_ text: ScalarText, at i: Int, end: Int, ignoringCase: Bool) -> Int? {
        func letter(_ index: Int) -> UInt32? {
            guard index < end else { return nil }
            let value = text.scalars[index].value
            // ASCII A–Z → a–z
            return ignoringCase && (0x41...0x5A).contains(value) ? value + 0x20 : value
        }
        guard let first = letter(i + 1) else { return nil }
        switch first {
        case 0x73, 0x74, 0x6D, 0x64:  // s t m d
            return 2
        case 0x72, 0x76:  // r v, then e
            return letter(i + 2) == 0x65 ? 3 : nil
        case 0x6C:  // l, then l
            return letter(i + 2) == 0x6C ? 3 : nil
        default:
            return nil
        }
    }
}
