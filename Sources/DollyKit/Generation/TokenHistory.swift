/// The ids a generation has seen so far (prompt, then output), kept in the two forms the logits
/// processors need: the sequence (no-repeat n-grams) and its distinct ids (repetition penalty).
/// Appending is amortised O(1); the distinct-id set is a bitmap sized once for the vocabulary.
public struct TokenHistory: Sendable {
    public private(set) var ids: [Int32] = []
    public private(set) var distinctIds: [Int32] = []
    /// How often each id occurs in the output alone (OpenAI's frequency and presence penalties count
    /// generated tokens only), and the ids with a nonzero count.
    public private(set) var generatedCounts: [Int32] = []
    public private(set) var generatedIds: [Int32] = []
    private var seen: [Bool] = []

    public init() {}

    public init(_ ids: [Int32], vocabularySize: Int = 0) {
        reserve(ids.count, vocabularySize: vocabularySize)
        append(contentsOf: ids)
    }

    public var isEmpty: Bool { ids.isEmpty }

    public mutating func reserve(_ count: Int, vocabularySize: Int) {
        ids.reserveCapacity(count)
        if seen.count < vocabularySize { seen += [Bool](repeating: false, count: vocabularySize - seen.count) }
    }

    public mutating func append(_ id: Int32) {
        ids.append(id)
        let i = Int(id)
        guard i >= 0 else { return }
        if i >= seen.count { seen += [Bool](repeating: false, count: i + 1 - seen.count) }
        if !seen[i] {
            seen[i] = true
            distinctIds.append(id)
        }
    }

    /// Appends a token the model generated (it also counts towards the output's penalties).
    public mutating func appendGenerated(_ id: Int32) {
        append(id)
        let i = Int(id)
        guard i >= 0 else { return }
        if i >= generatedCounts.count {
            generatedCounts += [Int32](repeating: 0, count: max(i + 1, seen.count) - generatedCounts.count)
        }
        if generatedCounts[i] == 0 { generatedIds.append(id) }
        generatedCounts[i] += 1
    }

    public mutating func append(contentsOf more: [Int32]) {
        for id in more { append(id) }
    }

    /// transformers' `NoRepeatNGramLogitsProcessor`: every id that would complete an n-gram
    /// already present, i.e. each t with (last n-1 ids, t) somewhere in the history.
    public func bannedNextTokens(ngramSize n: Int, into out: inout [Int32]) {
        out.removeAll(keepingCapacity: true)
        let count = ids.count
        // transformers bans nothing until cur_len + 1 >= n.
        guard n >= 1, count + 1 >= n else { return }
        if n == 1 {
            out.append(contentsOf: distinctIds)
            return
        }
        let k = n - 1
        ids.withUnsafeBufferPointer { a in
            let suffix = count - k
            var start = 0
            while start + k < count {  // the n-gram a[start ..< start + n] lies within the history
                var match = true
                for j in 0..<k where a[start + j] != a[suffix + j] {
                    match = false
                    break
                }
                if match { out.append(a[start + k]) }
                start += 1
            }
        }
    }
}
