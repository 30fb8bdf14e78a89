/// Finds added tokens (`<|im_start|>`, `<|eot_id|>`, …) in raw text before any pre-tokenization, as HF's
/// `AddedVocabulary` and llama.cpp's `tokenizer_st_partition` do. Without this step `<|im_end|>` would be
/// split into `<`, `|`, `im`, … by the regex and never become its control token.
///
/// A byte trie gives the leftmost-longest match: scanning left to right, the first position where any
/// token starts wins, and there the longest token wins (so `<|end|>` never shadows `<|endoftext|>`).
struct AddedTokenMatcher: Sendable {
    /// Trie nodes; node 0 is the root. `children[node]` maps the next byte to a child node.
    private var children: [[UInt8: Int32]] = [[:]]
    /// The token ending at each node, or -1.
    private var tokenAtNode: [Int32] = [-1]
    /// Bytes that start some token: a quick reject for most positions.
    private var startsToken = [Bool](repeating: false, count: 256)

    var isEmpty: Bool { tokenAtNode.count == 1 }

    /// Builds the matcher; when two ids share a text, the first one given wins.
    init(_ tokens: [(text: String, id: Int32)]) {
        for (text, id) in tokens {
            guard let first = text.utf8.first else { continue }
            var node = 0
            for byte in text.utf8 {
                if let child = children[node][byte] {
                    node = Int(child)
                } else {
                    children.append([:])
                    tokenAtNode.append(-1)
                    children[node][byte] = Int32(children.count - 1)
                    node = children.count - 1
                }
            }
            if tokenAtNode[node] < 0 { tokenAtNode[node] = id }
            startsToken[Int(first)] = true
        }
    }

    /// The longest token that starts at `utf8[offset]`: its id and its length in bytes.
    func longestMatch(in utf8: [UInt8], at offset: Int) -> (id: Int32, length: Int)? {
        guard startsToken[Int(utf8[offset])] else { return nil }
        var node = 0
        var best: (id: Int32, length: Int)?
        var position = offset
        while position < utf8.count, let child = children[node][utf8[position]] {
            node = Int(child)
            position += 1
            if tokenAtNode[node] >= 0 { best = (tokenAtNode[node], position - offset) }
        }
        return best
    }
}
