import Tensors

/// Builds the suite's samples: deterministic per (seed, task, length, sample index), whatever else
/// is generated in the same run.
public struct SuiteGenerator {
    /// The fillers the samples take in turn (sample i uses fillers[i mod count]).
    public let fillers: [FillerText]
    /// The model's token count of a text (no BOS).
    public let countTokens: (String) -> Int

    public init(fillers: [FillerText], countTokens: @escaping (String) -> Int) throws(HarnessError) {
        guard !fillers.isEmpty else { throw .invalid(.fillers, "is empty (use \(SuiteFiller.choices))") }
        self.fillers = fillers
        self.countTokens = countTokens
    }

    /// Sample `index` of `sampleCount` of `task` at `tokens` tokens. The first fact's depth is
    /// spread evenly over the samples, (index + 0.5) / sampleCount; other facts are at seeded depths.
    public func sample(_ task: SuiteTask, tokens: Int, index: Int, sampleCount: Int, seed: UInt64) throws(HarnessError) -> SuiteSample {
        let taskCode = UInt64(SuiteTask.allCases.firstIndex(of: task)!)
        var mixer = SplitMix64(seed: seed ^ (taskCode << 56) ^ (UInt64(tokens) << 24) ^ UInt64(index))
        let sampleSeed = mixer.next()
        var rng = SplitMix64(seed: sampleSeed)
        let depth = (Double(index) + 0.5) / Double(max(1, sampleCount))
        let filler = fillers[index % fillers.count]
        var stream = filler.stream(seed: sampleSeed)
        var s: SuiteSample
        switch task {
        case .niahSingle, .niahMultikey, .niahMultivalue, .niahMultiquery:
            s = try needles(task, tokens: tokens, depth: depth, rng: &rng, stream: &stream)
        case .variableTracking: s = try variableTracking(tokens: tokens, rng: &rng, stream: &stream)
        case .commonWords: s = try commonWords(tokens: tokens, rng: &rng)
        case .frequentWords: s = try frequentWords(tokens: tokens, rng: &rng)
        case .qa: s = try paragraphQA(tokens: tokens, depth: depth, rng: &rng, stream: &stream)
        }
        s.filler = task.usesFiller ? filler.filler : nil
        s.seed = sampleSeed
        return s
    }

    /// The plain prompt text the target length is measured on.
    static func plainText(body: String, answerPrefix: String) -> String { body + "\n" + answerPrefix }

    private func needles(_ task: SuiteTask, tokens: Int, depth: Double, rng: inout SplitMix64,
                         stream: inout SentenceStream) throws(HarnessError) -> SuiteSample {
        let keys = (0..<4).map { _ in PseudoWords.word(&rng) + "-" + PseudoWords.word(&rng) }
        let values = (0..<4).map { _ in String(1_000_000 + rng.below(9_000_000)) }
        let needleCount = task == .niahSingle ? 1 : 4
        var facts: [Haystack.Fact] = []
        for i in 0..<needleCount {
            let key = task == .niahMultivalue ? keys[0] : keys[i]
            facts.append(.init(text: "The special magic number for \(key) is: \(values[i]).",
                               depth: i == 0 ? depth : rng.nextUnitDouble()))
        }
        let many = task == .niahMultivalue || task == .niahMultiquery
        let asked = task == .niahMultiquery ? Self.list(keys) : keys[0]
        let intro = many ? "Special magic numbers are hidden in the following text. Memorize them; you will be asked about them afterwards.\n"
                         : "A special magic number is hidden in the following text. Memorize it; you will be asked about it afterwards.\n"
        let question = many ? "What are all the special magic numbers for \(asked) mentioned in the text above?"
                            : "What is the special magic number for \(asked) mentioned in the text above?"
        let prefix = many ? "The special magic numbers for \(asked) mentioned in the text above are"
                          : "The special magic number for \(asked) mentioned in the text above is"
        let expected = many ? values : [values[0]]
        let chance = task == .niahMultikey ? 1.0 / Double(needleCount) : 1 / SuiteTask.numberSpace
        return try filled(task, tokens: tokens, facts: facts, intro: intro, question: question, prefix: prefix,
                          expected: expected, chance: chance, stream: &stream)
    }

    private func variableTracking(tokens: Int, rng: inout SplitMix64, stream: inout SentenceStream) throws(HarnessError) -> SuiteSample {
        let chainCount = 4, hops = 4
        var names = Set<String>(), ordered: [String] = []
        while ordered.count < chainCount * (hops + 1) {
            let n = String((0..<5).map { _ in Character(UnicodeScalar(65 + UInt8(rng.below(26)))) })
            if names.insert(n).inserted { ordered.append(n) }
        }
        var values: [String] = []
        while values.count < chainCount {
            let v = String(10_000 + rng.below(90_000))
            if !values.contains(v) { values.append(v) }
        }
        var facts: [Haystack.Fact] = []
        for c in 0..<chainCount {
            let chain = Array(ordered[(c * (hops + 1))..<((c + 1) * (hops + 1))])
            let depths = (0...hops).map { _ in rng.nextUnitDouble() }.sorted()
            for (i, name) in chain.enumerated() {
                let rhs = i == 0 ? values[c] : "VAR \(chain[i - 1])"
                facts.append(.init(text: "VAR \(name) = \(rhs).", depth: depths[i]))
            }
        }
        return try filled(.variableTracking, tokens: tokens, facts: facts,
                          intro: "Memorize and track the chains of variable assignments hidden in the following text.\n",
                          question: "Question: Find all variables that are assigned the value \(values[0]) in the text above.",
                          prefix: "Answer: Following the assignments in the text above, the variables that hold the value \(values[0]) are:",
                          expected: Array(ordered[0...hops]), chance: Double(hops + 1) / Double(ordered.count),
                          stream: &stream, depths: Array(facts[0...hops].map(\.depth)))
    }

    private func paragraphQA(tokens: Int, depth: Double, rng: inout SplitMix64, stream: inout SentenceStream) throws(HarnessError) -> SuiteSample {
        let attributes = Self.attributes
        func name(_ rng: inout SplitMix64) -> String {
            [PseudoWords.word(&rng), PseudoWords.word(&rng)].map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: " ")
        }
        func paragraph(fact: String, _ rng: inout SplitMix64, _ stream: inout SentenceStream) -> String {
            var sentences = (0..<(3 + rng.below(3))).map { _ in stream.next() }
            sentences.insert(fact, at: rng.below(sentences.count + 1))
            return sentences.joined(separator: " ")
        }
        let (attribute, choices) = attributes[rng.below(attributes.count)]
        let gold = name(&rng), answer = choices[rng.below(choices.count)]
        let goldParagraph = paragraph(fact: "\(gold)'s favourite \(attribute) is \(answer).", &rng, &stream)
        var unitRNG = rng
        let built = try Haystack.build(
            target: tokens, facts: [.init(text: goldParagraph, depth: depth)], separator: "\n\n",
            label: { "Document \($0 + 1):\n\($1)" },
            compose: { Self.plainText(body: "Answer the question using the documents below.\n\n\($0)\n\nQuestion: What is \(gold)'s favourite \(attribute)?",
                                      answerPrefix: "Answer: \(gold)'s favourite \(attribute) is") },
            countTokens: countTokens,
            nextUnit: {
                let (a, values) = attributes[unitRNG.below(attributes.count)]
                return paragraph(fact: "\(name(&unitRNG))'s favourite \(a) is \(values[unitRNG.below(values.count)]).", &unitRNG, &stream)
            })
        let body = "Answer the question using the documents below.\n\n\(built.haystack)\n\nQuestion: What is \(gold)'s favourite \(attribute)?"
        return SuiteSample(task: .qa, body: body, answerPrefix: "Answer: \(gold)'s favourite \(attribute) is", expected: [answer],
                           depths: [depth], filler: nil, chance: 1 / Double(choices.count), targetTokens: tokens, seed: 0)
    }

    /// A needle-style sample: intro, the filler with the facts, the question.
    private func filled(_ task: SuiteTask, tokens: Int, facts: [Haystack.Fact], intro: String, question: String,
                        prefix: String, expected: [String], chance: Double, stream: inout SentenceStream,
                        depths: [Double]? = nil) throws(HarnessError) -> SuiteSample {
        let body = { (hay: String) in intro + hay + "\n" + question }
        let built = try Haystack.build(target: tokens, facts: facts, separator: " ",
                                       compose: { Self.plainText(body: body($0), answerPrefix: prefix) },
                                       countTokens: countTokens, nextUnit: { stream.next() })
        return SuiteSample(task: task, body: body(built.haystack), answerPrefix: prefix, expected: expected,
                           depths: depths ?? [facts[0].depth], filler: nil, chance: chance, targetTokens: tokens, seed: 0)
    }

    static func list(_ items: [String]) -> String {
        items.count <= 1 ? items.joined() : items.dropLast().joined(separator: ", ") + " and " + items.last!
    }

    static let attributes: [(String, [String])] = [
        ("colour", ["red", "green", "blue", "yellow", "purple", "orange", "brown", "grey", "white", "black", "pink", "teal"]),
        ("city", ["Paris", "Lisbon", "Oslo", "Cairo", "Lima", "Tokyo", "Dublin", "Vienna", "Nairobi", "Quito", "Hanoi", "Perth"]),
        ("animal", ["otter", "falcon", "badger", "heron", "lynx", "walrus", "gecko", "bison", "koala", "moose", "ferret", "crane"]),
        ("instrument", ["violin", "cello", "flute", "trumpet", "harp", "oboe", "banjo", "drum", "piano", "tuba", "lute", "sitar"]),
    ]
}

extension SplitMix64 {
    /// Uniform in [0, 1) with 53 bits.
    mutating func nextUnitDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
