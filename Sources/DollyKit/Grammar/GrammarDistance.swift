/// How many bytes the shortest way to finish the grammar takes from a state: what lets a constrained
/// generation end inside its token budget. Each token is at least one byte and every single byte is a
/// token of a byte-level vocabulary, so a state whose distance is at most the tokens left can always
/// still finish; the mask then keeps only tokens after which that stays true.
struct GrammarDistance {
    static let unreachable = Int32.max / 4
    /// Bytes from position p to the end of its alternative (its own element included).
    let fromPosition: [Int32]
    /// Per stack node, bytes to empty the stack from it (memoized; nodes only grow).
    var fromNode: [Int32] = [0]
    /// Per DFA state, its distance (-1: not yet computed).
    var fromState: [Int32] = []

    init(grammar g: CompiledGrammar) {
        // The shortest UTF-8 encoding of a member of each class.
        let classBytes: [Int32] = g.classes.map { ranges in
            guard let low = ranges.map(\.lowerBound).min() else { return Self.unreachable }
            return low < 0x80 ? 1 : low < 0x800 ? 2 : low < 0x10000 ? 3 : 4
        }
        var ruleMin = [Int32](repeating: Self.unreachable, count: g.alternatives.count)
        var fromPosition = [Int32](repeating: 0, count: g.kinds.count)
        // Rules may refer to each other in cycles: relax until nothing shortens (each pass fixes at
        // least one more rule's minimum, so at most one pass per rule).
        var changed = true
        var passes = 0
        while changed && passes <= g.alternatives.count + 1 {
            changed = false
            passes += 1
            var position = g.kinds.count - 1
            while position >= 0 {
                let p = position
                switch g.kinds[p] {
                case .end: fromPosition[p] = 0
                case .chars: fromPosition[p] = min(Self.unreachable, classBytes[Int(g.args[p])] + fromPosition[p + 1])
                case .rule: fromPosition[p] = min(Self.unreachable, ruleMin[Int(g.args[p])] + fromPosition[p + 1])
                }
                position -= 1
            }
            for (rule, alternatives) in g.alternatives.enumerated() {
                let best = alternatives.map { fromPosition[Int($0)] }.min() ?? Self.unreachable
                if best < ruleMin[rule] {
                    ruleMin[rule] = best
                    changed = true
                }
            }
        }
        self.fromPosition = fromPosition
    }

    /// Bytes to finish from stack node `n`: the rest of its alternative, then its parents'.
    mutating func node(_ n: Int32, _ stacks: GrammarStacks) -> Int32 {
        while fromNode.count < stacks.nodePos.count {
            let i = fromNode.count
            let parent = Int(stacks.nodeParent[i])  // created before its children: already known
            fromNode.append(min(Self.unreachable, fromPosition[Int(stacks.nodePos[i])] + fromNode[parent]))
        }
        return fromNode[Int(n)]
    }
}

extension GrammarConstraint {
    /// Bytes of the shortest completion from state `s` (under the lock).
    func distance(_ s: Int32) -> Int32 {
        if distances == nil { distances = GrammarDistance(grammar: grammar) }
        if distances!.fromState.count <= Int(s) {
            distances!.fromState += repeatElement(-1, count: Int(s) + 1 - distances!.fromState.count)
        }
        let known = distances!.fromState[Int(s)]
        if known >= 0 { return known }
        let state = states[Int(s)]
        let tops = stackSets[Int(state.stacks)]
        var best = GrammarDistance.unreachable
        if state.need == 0 {
            for top in tops { best = min(best, distances!.node(top, stacks)) }
        } else {
            // The code points the sequence can still become, clipped after a lead byte alone as
            // `computeStep` clips them (no overlong forms or surrogates).
            let shift = UInt32(6 * state.need)
            var lo = state.value << shift, hi = min(lo | (1 << shift - 1), CharacterRanges.maxScalar)
            if state.lead == 0xE0 { lo = max(lo, 0x800) }
            if state.lead == 0xF0 { lo = max(lo, 0x10000) }
            if state.lead == 0xED { hi = min(hi, 0xD7FF) }
            best = distanceInsideScalar(tops, need: Int(state.need), lo, hi)
        }
        distances!.fromState[Int(s)] = best
        return best
    }

    /// Bytes of the shortest completion from the middle of a UTF-8 sequence that still needs
    /// `need` bytes and can become a code point in lo...hi, with the stacks `tops` before it:
    /// finish it, then the rest after the class of a stack that can take it.
    func distanceInsideScalar(_ tops: [Int32], need: Int, _ lo: UInt32, _ hi: UInt32) -> Int32 {
        var best = GrammarDistance.unreachable
        for top in tops where top != 0 {
            let p = Int(stacks.nodePos[Int(top)])
            guard grammar.classIntersects(grammar.args[p], lo, hi) else { continue }
            let rest = distances!.fromPosition[p + 1] + distances!.node(stacks.nodeParent[Int(top)], stacks)
            best = min(best, Int32(need) + rest)
        }
        return best
    }

    /// Clears from `mask` (state `s`'s mask) every token after which the grammar could not finish
    /// within `budget - 1` more tokens, unless that would clear them all. Only near the end of the
    /// budget (within `window` tokens of the state's own distance) is anything cleared: there, the
    /// state's allowed tokens are sorted once into levels by the distance they leave (level c: the
    /// tokens leaving at most c), kept, and each later step is one AND with a level.
    func keepFinishable(_ s: Int32, budget: Int, window: Int, mask: UnsafeMutableBufferPointer<UInt64>) {
        lock.lock()
        defer { lock.unlock() }
        let here = Int(distance(s))
        guard budget <= here + window, here <= budget else { return }
        let words = mask.count
        if finishLevels[s] == nil {
            let levels = finishLevels(s, here: here, window: window, mask: mask)
            if finishLevelWords + levels.words.count <= Self.maxFinishLevelWords {
                finishLevelWords += levels.words.count
                finishLevels[s] = levels
            } else {
                apply(levels, budget: budget, mask: mask)  // past the memory bound: used once, not kept
                return
            }
        }
        apply(finishLevels[s]!, budget: budget, mask: mask)
    }

    /// Sorts state `s`'s allowed tokens into levels by the distance each leaves. With a class run,
    /// the run tokens of one length all leave the distance of the chain's state at that length (the
    /// unfinished ones are computed from the stacks, without making their mid-sequence states);
    /// the others are stepped one by one.
    private func finishLevels(_ s: Int32, here: Int, window: Int, mask: UnsafeMutableBufferPointer<UInt64>) -> FinishLevels {
        let words = mask.count
        var levels = FinishLevels(base: here - 1, maxAfter: here - 1, words: [])
        var after: [(id: Int, distance: Int)] = []  // tokens leaving more than the base
        var groups: [(distance: Int, tokens: [UInt64])] = []
        var oneByOne = Array(mask)
        let run = self.run(s)
        if let run {
            let p = run.partition
            var previous: Int?
            for (k, n) in p.lengths.enumerated() where n <= run.live {
                defer { previous = k }
                let d = Int(distance(run.state(after: n)))
                var tokens = [UInt64](repeating: 0, count: words)
                var any: UInt64 = 0
                for w in 0..<words {
                    // Full tokens of exactly n members; the unfinished ones are done below.
                    let exact = p.upTo[k * words + w] & ~(previous.map { p.upTo[$0 * words + w] } ?? 0)
                    tokens[w] = exact & ~p.unfinished[w] & mask[w]
                    oneByOne[w] &= ~tokens[w]
                    any |= tokens[w]
                }
                guard any != 0 else { continue }
                levels.maxAfter = max(levels.maxAfter, d)
                if d > levels.base {
                    if let g = groups.firstIndex(where: { $0.distance == d }) {
                        for w in 0..<words { groups[g].tokens[w] |= tokens[w] }
                    } else {
                        groups.append((d, tokens))
                    }
                }
            }
        }
        for w in 0..<words where oneByOne[w] != 0 {
            var bits = oneByOne[w]
            while bits != 0 {
                let id = w << 6 | bits.trailingZeroBitCount
                bits &= bits - 1
                guard id < vocabulary.size else { continue }
                let d: Int
                if let run, let scalar = run.partition.unfinishedScalar[Int32(id)] {
                    let m = Int(run.partition.restStart[id].members)
                    let before = run.state(after: m)
                    d = before < 0 ? Int(GrammarDistance.unreachable)
                        : Int(distanceInsideScalar(stackSets[Int(states[Int(before)].stacks)], need: scalar.need, scalar.low, scalar.high))
                } else {
                    var t = s
                    for b in vocabulary.bytes[id] {
                        t = step(t, b)
                        if t < 0 { break }
                    }
                    d = t < 0 ? Int(GrammarDistance.unreachable) : Int(distance(t))
                }
                if d > levels.base { after.append((id, d)) }
                levels.maxAfter = max(levels.maxAfter, d)
            }
        }
        // Level k (cutoff base + k) for k in 0..<count: the tokens leaving more than the cutoff cleared.
        let count = max(min(levels.maxAfter - levels.base, window + 1), 0)
        levels.words = [UInt64](repeating: 0, count: count * words)
        for k in 0..<count {
            for w in 0..<words { levels.words[k * words + w] = mask[w] }
        }
        for (id, d) in after {
            // Cleared at every cutoff below d.
            for k in 0..<min(d - levels.base, count) { levels.words[k * words + id >> 6] &= ~(1 << UInt64(id & 63)) }
        }
        for (d, tokens) in groups {
            for k in 0..<min(d - levels.base, count) {
                for w in 0..<words { levels.words[k * words + w] &= ~tokens[w] }
            }
        }
        return levels
    }

    private func apply(_ levels: FinishLevels, budget: Int, mask: UnsafeMutableBufferPointer<UInt64>) {
        let k = budget - 1 - levels.base
        let words = mask.count
        guard k >= 0, levels.maxAfter > budget - 1, (k + 1) * words <= levels.words.count else { return }
        var any: UInt64 = 0
        for w in 0..<words { any |= levels.words[k * words + w] }
        guard any != 0 else { return }  // nothing can finish in time: leave the mask (ends at the budget)
        for w in 0..<words { mask[w] = levels.words[k * words + w] }
    }
}

/// A state's allowed tokens by the distance they leave: `words` holds, for cutoff base + k, the mask
/// of the tokens leaving at most that many bytes.
struct FinishLevels {
    let base: Int
    var maxAfter: Int
    var words: [UInt64]
}
