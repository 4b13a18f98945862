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
            // Mid code point: finish it, then the rest after the class of a stack that can take it.
            let shift = UInt32(6 * state.need)
            let lo = state.value << shift, hi = min(lo | (1 << shift - 1), CharacterRanges.maxScalar)
            for top in tops where top != 0 {
                let p = Int(stacks.nodePos[Int(top)])
                guard grammar.classIntersects(grammar.args[p], lo, hi) else { continue }
                let rest = distances!.fromPosition[p + 1] + distances!.node(stacks.nodeParent[Int(top)], stacks)
                best = min(best, Int32(state.need) + rest)
            }
        }
        distances!.fromState[Int(s)] = best
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
            var levels = FinishLevels(base: here - 1, maxAfter: here - 1, words: [])
            // Distance after each allowed token, bucketed from base = here - 1 (a budget never asks less).
            var after: [(id: Int, distance: Int)] = []
            for w in 0..<words where mask[w] != 0 {
                var bits = mask[w]
                while bits != 0 {
                    let id = w << 6 | bits.trailingZeroBitCount
                    bits &= bits - 1
                    guard id < vocabulary.size else { continue }
                    var t = s
                    for b in vocabulary.bytes[id] {
                        t = step(t, b)
                        if t < 0 { break }
                    }
                    let d = t < 0 ? Int(GrammarDistance.unreachable) : Int(distance(t))
                    if d > levels.base { after.append((id, d)) }
                    levels.maxAfter = max(levels.maxAfter, d)
                }
            }
            // Level k (cutoff base + k) for k in 0..<count: the tokens leaving more than the cutoff cleared.
            let count = min(levels.maxAfter - levels.base, window + 1)
            levels.words = [UInt64](repeating: 0, count: max(count, 0) * words)
            for k in 0..<max(count, 0) {
                for w in 0..<words { levels.words[k * words + w] = mask[w] }
            }
            for (id, d) in after {
                // Cleared at every cutoff below d.
                for k in 0..<min(d - levels.base, max(count, 0)) { levels.words[k * words + id >> 6] &= ~(1 << UInt64(id & 63)) }
            }
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
