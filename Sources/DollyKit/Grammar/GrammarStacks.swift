/// The pushdown side of the recognizer (llama.cpp's design): the parse is a set of stacks of grammar
/// positions; the top of each points at a character class the next code point may match, and
/// matching it pops and pushes through rule references until every stack again tops at a class
/// (or is empty: the root has ended). Stacks are persistent linked lists of interned nodes, so a
/// stack is one integer and a set of stacks one sorted array, which makes states hashable.
struct GrammarStacks {
    let grammar: CompiledGrammar
    /// Node `i` is "at position nodePos[i], then return to node nodeParent[i]". Node 0 is the
    /// bottom: a stack whose top is 0 has finished the root.
    private(set) var nodePos: [Int32] = [-1]
    private(set) var nodeParent: [Int32] = [0]
    private var nodeIds: [Int64: Int32] = [:]
    private var work = 0

    /// Most stacks one state may hold, and most expansion steps one code point may cost: ambiguous
    /// grammars can multiply stacks, and no grammar may make a step hang. Past either, the state is
    /// dead (nothing allowed), which ends the generation with a reason instead of stalling.
    static let maxStacks = 2048
    static let maxWork = 200_000
    /// Deepest chain of pushes and pops one expansion may recurse through (small thread stacks:
    /// the server's engine thread runs this too).
    static let maxDepth = 1_000
    /// Most nodes kept; a generation past it ends as above instead of growing without bound.
    static let maxNodes = 4_000_000

    init(grammar: CompiledGrammar) {
        self.grammar = grammar
    }

    private mutating func node(_ pos: Int32, _ parent: Int32) -> Int32 {
        let key = Int64(pos) << 32 | Int64(parent)
        if let id = nodeIds[key] { return id }
        let id = Int32(nodePos.count)
        nodePos.append(pos)
        nodeParent.append(parent)
        nodeIds[key] = id
        return id
    }

    /// The stacks the root starts with; nil when they overflow the limits.
    mutating func initial() -> [Int32]? {
        var out: [Int32] = []
        work = 0
        for alt in grammar.alternatives[0] {
            guard expand(alt, 0, depth: 0, into: &out) else { return nil }
        }
        return normalize(&out)
    }

    /// The stacks after code point `c`; empty when no stack accepts it, nil past the limits.
    mutating func accept(_ tops: [Int32], _ c: UInt32) -> [Int32]? {
        var out: [Int32] = []
        work = 0
        for top in tops where top != 0 {
            let pos = nodePos[Int(top)]
            guard grammar.classContains(grammar.args[Int(pos)], c) else { continue }
            guard expand(pos + 1, nodeParent[Int(top)], depth: 0, into: &out) else { return nil }
        }
        return normalize(&out)
    }

    /// Whether some stack accepts a code point in lo...hi (a UTF-8 sequence begun but unfinished).
    func accepts(_ tops: [Int32], _ lo: UInt32, _ hi: UInt32) -> Bool {
        for top in tops where top != 0 {
            if grammar.classIntersects(grammar.args[Int(nodePos[Int(top)])], lo, hi) { return true }
        }
        return false
    }

    private func normalize(_ out: inout [Int32]) -> [Int32]? {
        out.sort()
        var unique: [Int32] = []
        unique.reserveCapacity(out.count)
        for s in out where unique.last != s { unique.append(s) }
        return unique.count > Self.maxStacks ? nil : unique
    }

    /// Pushes the stacks that continue at `pos` (returning to `parent` after its alternative ends)
    /// until each tops at a class. False past the limits. Without left recursion no rule re-enters
    /// itself before a class is reached, so only long chains of rules reach the depth limit.
    private mutating func expand(_ pos: Int32, _ parent: Int32, depth: Int, into out: inout [Int32]) -> Bool {
        work += 1
        guard work <= Self.maxWork, depth < Self.maxDepth, out.count <= 4 * Self.maxStacks, nodePos.count < Self.maxNodes else { return false }
        switch grammar.kinds[Int(pos)] {
        case .chars:
            out.append(node(pos, parent))
        case .end:
            if parent == 0 {
                out.append(0)
            } else {
                return expand(nodePos[Int(parent)], nodeParent[Int(parent)], depth: depth + 1, into: &out)
            }
        case .rule:
            // A reference at the end of an alternative returns straight to `parent` (a tail call),
            // so right recursion such as `star ::= x star | ε` keeps the stack flat.
            let next = pos + 1
            let cont = grammar.kinds[Int(next)] == .end ? parent : node(next, parent)
            for alt in grammar.alternatives[Int(grammar.args[Int(pos)])] {
                guard expand(alt, cont, depth: depth + 1, into: &out) else { return false }
            }
        }
        return true
    }
}
