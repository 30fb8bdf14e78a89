import Foundation

/// Byte-level BPE on one pre-tokenized word (HF `models::bpe`, llama.cpp `llm_tokenizer_bpe_session`).
///
/// A word starts as one token per byte. Then, repeatedly, the adjacent pair whose merge rule comes first
/// in the merge list is replaced by the merged token; among equal ranks the leftmost pair goes first.
/// It stops when no adjacent pair has a rule. Ranks are looked up by a pair of token ids packed into one
/// `UInt64`, and a binary heap over (rank, position) keeps long words (a run of 10,000 spaces is one
/// word) at O(n log n) instead of the textbook O(n²).
struct BPEModel: Sendable {
    struct Merge: Sendable {
        var rank: Int32
        var result: Int32
    }

    /// The token of each single byte, or -1 when the vocabulary lacks it (some vocabularies omit bytes
    /// that never occur in valid UTF-8; a `String` cannot contain them).
    let byteTokens: [Int32]
    /// Merge rules keyed by `pairKey(left, right)`.
    let merges: [UInt64: Merge]
    /// With `ignore_merges`, words that are whole vocabulary entries, keyed by their bytes.
    let wholeWords: [[UInt8]: Int32]?

    /// - Parameters:
    ///   - tokens: the vocabulary in byte-level spelling, indexed by id.
    ///   - merges: the merge rules in rank order, as pairs of byte-level token strings.
    ///   - addedIds: ids of added tokens, which never take part in BPE.
    ///   - source: names the file or metadata for errors.
    /// - Throws: `TokenizationError.invalidMerge` when a rule names a token (or yields a merged token)
    ///   missing from the vocabulary, as HF does (`MergeTokenOutOfVocabulary`).
    init(tokens: [String], merges ruleList: [(String, String)], addedIds: Set<Int32>, ignoreMerges: Bool,
         source: String) throws {
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() where !token.isEmpty && !addedIds.contains(Int32(id)) {
            ids[token] = Int32(id)  // later duplicates win, as in llama.cpp's token_to_id
        }

        byteTokens = ByteLevel.characters.map { ids[String($0)] ?? -1 }

        var table: [UInt64: Merge] = [:]
        table.reserveCapacity(ruleList.count)
        for (rank, (left, right)) in ruleList.enumerated() {
            func fail(_ reason: String) -> TokenizationError {
                .invalidMerge(source: source, index: rank, merge: "\(left) \(right)", reason: reason)
            }
            guard let leftId = ids[left] else { throw fail("'\(left)' is not in the vocabulary") }
            guard let rightId = ids[right] else { throw fail("'\(right)' is not in the vocabulary") }
            guard let resultId = ids[left + right] else {
                throw fail("the merged token '\(left + right)' is not in the vocabulary")
            }
            let key = BPEModel.pairKey(leftId, rightId)
            if table[key] == nil {  // the first (lowest) rank of a duplicated rule wins, as in llama.cpp
                table[key] = Merge(rank: Int32(clamping: rank), result: resultId)
            }
        }
        merges = table

        if ignoreMerges {
            var words: [[UInt8]: Int32] = [:]
            words.reserveCapacity(ids.count)
            for (token, id) in ids {
                if let bytes = ByteLevel.bytes(of: token) { words[bytes] = id }
            }
            wholeWords = words
        } else {
            wholeWords = nil
        }
    }

    @inline(__always)
    static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// The tokens of one word.
    func encode(word: ArraySlice<UInt8>) -> [Int32] {
        if let wholeWords, let id = wholeWords[Array(word)] { return [id] }
        var symbols: [Int32] = []
        symbols.reserveCapacity(word.count)
        for byte in word where byteTokens[Int(byte)] >= 0 { symbols.append(byteTokens[Int(byte)]) }
        switch symbols.count {
        case 0, 1:
            return symbols
        case 2:
            if let merge = merges[BPEModel.pairKey(symbols[0], symbols[1])] { return [merge.result] }
            return symbols
        default:
            return mergeAll(symbols)
        }
    }

    /// Applies merges until none is left. Symbols form a linked list over their original positions; a
    /// merged-away symbol is marked -1. Heap entries remember the pair they were made for and are
    /// dropped on pop when either side has changed since.
    private func mergeAll(_ initial: [Int32]) -> [Int32] {
        var symbols = initial
        let count = symbols.count
        var next = Array(1...count)            // `count` means none
        var previous = Array(-1..<(count - 1))  // -1 means none
        var heap = MergeHeap()

        func push(_ position: Int) {
            let right = next[position]
            guard right < count, let merge = merges[BPEModel.pairKey(symbols[position], symbols[right])] else { return }
            heap.push(.init(rank: merge.rank, position: Int32(position), left: symbols[position],
                            right: symbols[right], result: merge.result))
        }
        for position in 0..<(count - 1) { push(position) }

        while let candidate = heap.pop() {
            let position = Int(candidate.position)
            let right = next[position]
            guard symbols[position] == candidate.left, right < count, symbols[right] == candidate.right else {
                continue  // stale: one side was merged into something else
            }
            symbols[position] = candidate.result
            symbols[right] = -1
            next[position] = next[right]
            if next[right] < count { previous[next[right]] = position }
            if previous[position] >= 0 { push(previous[position]) }
            push(position)
        }

        var result: [Int32] = []
        var position = 0  // the first symbol is never merged away: merges keep the left position
        while position < count {
            result.append(symbols[position])
            position = next[position]
        }
        return result
    }
}

/// A binary min-heap of merge candidates ordered by (rank, position).
private struct MergeHeap {
    struct Entry {
        var rank: Int32
        var position: Int32
        var left: Int32
        var right: Int32
        var result: Int32

        @inline(__always)
        func precedes(_ other: Entry) -> Bool {
            rank != other.rank ? rank < other.rank : position < other.position
        }
    }

    private var entries: [Entry] = []

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].precedes(entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let top = entries.first else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < entries.count, entries[left].precedes(entries[smallest]) { smallest = left }
                if right < entries.count, entries[right].precedes(entries[smallest]) { smallest = right }
                if smallest == parent { break }
                entries.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}

/// Remembers the tokens of words already encoded. Prompts repeat words constantly, so most words skip
/// BPE entirely. Shared by all callers of one `Tokenizer`, behind a lock; it is cleared when it reaches
/// `capacity` words, which bounds memory on adversarial input without the bookkeeping of an LRU.
final class WordCache: @unchecked Sendable {  // @unchecked: `words` is only touched under `lock`
    private let lock = NSLock()
    private var words: [[UInt8]: [Int32]] = [:]
    private let capacity: Int

    init(capacity: Int = 1 << 16) { self.capacity = capacity }

    func tokens(for word: ArraySlice<UInt8>, compute: (ArraySlice<UInt8>) -> [Int32]) -> [Int32] {
        let key = Array(word)
        lock.lock()
        let cached = words[key]
        lock.unlock()
        if let cached { return cached }
        let tokens = compute(word)
        lock.lock()
        if words.count >= capacity { words.removeAll(keepingCapacity: true) }
        words[key] = tokens
        lock.unlock()
        return tokens
    }
}
