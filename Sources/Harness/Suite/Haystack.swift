/// Fills a prompt to a token length with filler units around facts placed at given depths.
///
/// Depth d puts a fact after round(d·m) of the m filler units, so it is the share of filler before
/// the fact. Lengths are the model's token counts of the whole composed prompt: units are added
/// while their summed counts fit, then dropped from the end until the composed prompt fits.
struct Haystack {
    struct Fact {
        var text: String
        var depth: Double
    }

    /// - Parameters:
    ///   - target: the composed prompt's token budget.
    ///   - separator: between units ("" for none).
    ///   - label: rewrites unit i of the final haystack (facts included), e.g. "Document i:".
    ///   - compose: the whole prompt around a haystack text.
    ///   - nextUnit: the next filler unit.
    /// - Returns: the haystack text and the composed prompt.
    static func build(target: Int, facts: [Fact], separator: String, label: ((Int, String) -> String)? = nil,
                      compose: (String) -> String, countTokens: (String) -> Int,
                      nextUnit: () -> String) throws(HarnessError) -> (haystack: String, prompt: String) {
        let fixed = countTokens(compose(facts.map(\.text).joined(separator: separator)))
        guard fixed < target else {
            throw .invalid(.lengths, "\(target) tokens cannot hold this task's question and facts (\(fixed) tokens)")
        }
        var units: [String] = [], used = 0
        while true {
            let u = nextUnit()
            let t = countTokens(separator + u)
            if used + t > target - fixed { break }
            units.append(u)
            used += t
        }
        let perUnit = max(1, used / max(1, units.count))
        var m = units.count
        while true {
            let text = render(Array(units.prefix(m)), facts: facts, separator: separator, label: label)
            let prompt = compose(text)
            let over = countTokens(prompt) - target
            if over <= 0 || m == 0 { return (text, prompt) }
            m = max(0, m - max(1, over / perUnit))
        }
    }

    static func render(_ units: [String], facts: [Fact], separator: String, label: ((Int, String) -> String)?) -> String {
        var all = units
        let m = units.count
        let placed = facts.enumerated().map { (i, f) in (index: min(m, max(0, Int((f.depth * Double(m)).rounded()))), order: i, text: f.text) }
        // Insert from the back so earlier indices stay valid; equal indices keep the facts' order.
        for p in placed.sorted(by: { ($0.index, $0.order) > ($1.index, $1.order) }) { all.insert(p.text, at: p.index) }
        if let label { all = all.enumerated().map { label($0, $1) } }
        return all.joined(separator: separator)
    }
}
