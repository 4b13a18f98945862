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
}
