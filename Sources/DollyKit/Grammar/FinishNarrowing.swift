/// Near the end of a token budget, only tokens after which the grammar can still be finished in
/// time: each token is at least one byte and every byte is a token of a byte-level vocabulary, so
/// a state whose distance (`GrammarDistance`, in bytes) is at most the tokens left can always still
/// finish.
extension GrammarConstraint {
    /// Clears from `mask` (state `s`'s mask) every token after which the grammar could not finish
    /// within `budget - 1` more tokens, unless that would clear them all. Only near the end of the
    /// budget (within `window` tokens of the state's own distance) is anything cleared: there, the
    /// state's allowed tokens are sorted once by the distance they leave (`FinishLevels`, kept) and
    /// each step clears those leaving more than the budget allows.
    func keepFinishable(_ s: Int32, budget: Int, window: Int, mask: UnsafeMutableBufferPointer<UInt64>) {
        lock.lock()
        defer { lock.unlock() }
        let here = Int(distance(s))
        guard budget <= here + window, here <= budget else { return }
        if let known = finishLevels[s] {
            apply(known, budget: budget, mask: mask)
            return
        }
        let levels = finishLevels(s, here: here, mask: mask)
        if finishLevelWords + levels.words <= Self.maxFinishLevelWords {
            finishLevelWords += levels.words
            finishLevels[s] = levels
        }  // past the memory bound: used once, not kept
        apply(levels, budget: budget, mask: mask)
    }

    /// Sorts state `s`'s allowed tokens by the distance each leaves, keeping those that leave more
    /// than the state's own distance minus one (a budget never asks less). With a class run, the
    /// full tokens of one length all leave the distance of the chain's state at that length: one
    /// bitset per distance; the unfinished ones are computed from the stacks (without making their
    /// mid-sequence states); the rest are walked in their tries from the chain's states. Without a
    /// run the vocabulary trie is walked: tokens sharing a prefix share its steps.
    private func finishLevels(_ s: Int32, here: Int, mask: UnsafeMutableBufferPointer<UInt64>) -> FinishLevels {
        let words = mask.count
        var levels = FinishLevels(base: here - 1, maxAfter: here - 1)
        func single(_ id: Int32, _ d: Int) {
            guard mask[Int(id) >> 6] >> UInt64(id & 63) & 1 == 1 else { return }
            if d > levels.base { levels.singles.append((id, d)) }
            levels.maxAfter = max(levels.maxAfter, d)
        }
        guard let run = self.run(s) else {
            walkDistances(vocabulary.trie, from: s, single)
            return levels
        }
        let p = run.partition
        // Lengths in a row that leave one same distance are one range of the cumulative bitsets
        // (inside a string every length leaves the same: one range in all).
        var ranges: [(first: Int, last: Int, distance: Int)] = []
        for (k, n) in p.lengths.enumerated() where n <= run.live && p.hasFull[k] {
            let d = Int(distance(run.state(after: n)))
            levels.maxAfter = max(levels.maxAfter, d)
            guard d > levels.base else { continue }
            if let last = ranges.last, last.distance == d, last.last == k - 1 {
                ranges[ranges.count - 1].last = k
            } else {
                ranges.append((k, k, d))
            }
        }
        for (first, last, d) in ranges {
            var g = levels.groups.firstIndex { $0.distance == d }
            if g == nil {
                levels.groups.append((d, [UInt64](repeating: 0, count: words)))
                g = levels.groups.count - 1
            }
            for w in 0..<words {
                let shorter = first > 0 ? p.upTo[(first - 1) * words + w] : 0
                levels.groups[g!].tokens[w] |= p.upTo[last * words + w] & ~shorter & ~p.unfinished[w] & mask[w]
            }
        }
        for (id, m, scalar) in p.unfinishedTokens where m <= run.live {
            let before = run.state(after: m)
            single(id, Int(distanceInsideScalar(stackSets[Int(states[Int(before)].stacks)], need: scalar.need, scalar.low, scalar.high)))
        }
        for m in p.rest.indices where m <= run.live && !p.rest[m].isEmpty {
            walkDistances(p.rest[m], from: run.state(after: m), single)
        }
        return levels
    }

    /// Walks `trie` from state `s` as the mask's walk does and reports each token it reaches (an
    /// allowed one) with the distance of the state after it.
    private func walkDistances(_ trie: ByteTrie, from s: Int32, _ report: (Int32, Int) -> Void) {
        var pending: [(node: Int32, state: Int32)] = [(0, s)]
        while let (node, state) = pending.popLast() {
            for e in Int(trie.firstEdge[Int(node)]) ..< Int(trie.firstEdge[Int(node) + 1]) {
                let next = step(state, trie.edgeByte[e])
                if next < 0 { continue }
                let child = Int(trie.edgeTarget[e])
                let tokens = Int(trie.firstToken[child]) ..< Int(trie.firstToken[child + 1])
                if !tokens.isEmpty {
                    let d = Int(distance(next))
                    for t in tokens { report(trie.tokenIds[t], d) }
                }
                if trie.firstEdge[child] < trie.firstEdge[child + 1] { pending.append((Int32(child), next)) }
            }
        }
    }

    /// Clears the tokens leaving more than `budget - 1`, unless none would be left (then nothing
    /// can finish in time and the answer ends at the budget).
    private func apply(_ levels: FinishLevels, budget: Int, mask: UnsafeMutableBufferPointer<UInt64>) {
        let cutoff = budget - 1
        guard levels.maxAfter > cutoff else { return }
        let words = mask.count
        if finishScratch.count != words { finishScratch = [UInt64](repeating: 0, count: words) }
        finishScratch.withUnsafeMutableBufferPointer { kept in
            for w in 0..<words { kept[w] = mask[w] }
            for (d, tokens) in levels.groups where d > cutoff {
                for w in 0..<words { kept[w] &= ~tokens[w] }
            }
            for (id, d) in levels.singles where d > cutoff {
                kept[Int(id) >> 6] &= ~(1 << UInt64(id & 63))
            }
            var any: UInt64 = 0
            for w in 0..<words { any |= kept[w] }
            guard any != 0 else { return }
            for w in 0..<words { mask[w] = kept[w] }
        }
    }
}

/// A state's allowed tokens that leave more than `base` (its own distance minus one), by the
/// distance they leave: bitsets for the full tokens of its class run, ids for the others.
struct FinishLevels {
    let base: Int
    var maxAfter: Int
    var groups: [(distance: Int, tokens: [UInt64])] = []
    var singles: [(id: Int32, distance: Int)] = []

    /// Words it holds (for the memory bound).
    var words: Int { groups.reduce(0) { $0 + $1.tokens.count } + singles.count * 2 }
}
