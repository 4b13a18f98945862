/// A state's class run: the chain of states that members of one large class C lead through. From
/// a state where every member of C leads to the same next state (each stack's class holds all of C
/// or none of it), a token spelled by n members ends at chain[n] whatever they are, so its fate is
/// known from n alone (`ClassPartition`). Inside a JSON string C is the string's characters and the
/// chain is one state long and endless; inside a string of at most 20 characters it has 21 states.
struct StateRun {
    let partition: ClassPartition
    /// chain[n]: the state after n members (chain[0] is the state itself).
    let chain: [Int32]
    /// Whether the last state leads to itself (then any number of members is allowed); otherwise
    /// one member more than the chain holds leads nowhere.
    let endless: Bool

    /// The most members a token may start with and stay alive.
    var live: Int { endless ? Int.max : chain.count - 1 }

    func state(after n: Int) -> Int32 {
        n < chain.count ? chain[n] : endless ? chain[chain.count - 1] : GrammarConstraint.dead
    }
}

extension GrammarConstraint {
    /// Classes with fewer members are not worth a partition: their tokens are few and the trie walk
    /// prunes at the first byte.
    static let minimumRunClassMembers: UInt64 = 16

    /// Looks up (building on first use, once per tokenizer) the vocabulary partitions of the
    /// grammar's large classes, so that the first masks do not pay for them. Returns how many
    /// classes have one. Optional: masks build what they need on their own.
    @discardableResult
    public func prepareRuns() -> Int {
        lock.lock()
        defer { lock.unlock() }
        return grammar.classes.indices.filter { partition(ofClass: Int32($0)) != nil }.count
    }

    /// The class run of state `s`, computed on first need (under the lock).
    func run(_ s: Int32) -> StateRun? {
        if let known = runs[s] { return known }
        let made = makeRun(s)
        runs[s] = .some(made)
        return made
    }

    private func makeRun(_ s: Int32) -> StateRun? {
        let state = states[Int(s)]
        guard state.need == 0 else { return nil }
        var tried: [Int32] = []
        for top in stackSets[Int(state.stacks)] where top != 0 {
            let c = grammar.args[Int(stacks.nodePos[Int(top)])]
            guard !tried.contains(c) else { continue }
            tried.append(c)
            if let partition = partition(ofClass: c), let run = chain(from: s, cls: c, partition) { return run }
        }
        return nil
    }

    private func partition(ofClass c: Int32) -> ClassPartition? {
        if let known = classPartitions[Int(c)] { return known }
        let ranges = grammar.classes[Int(c)]
        let members = ranges.reduce(UInt64(0)) { $0 + UInt64($1.upperBound - $1.lowerBound) + 1 }
        let made = members >= Self.minimumRunClassMembers ? vocabulary.partition(for: ranges) : nil
        classPartitions[Int(c)] = .some(made)
        return made
    }

    /// Follows class `c` from `s` for as many members as a token may hold; nil when a state on the
    /// way is not uniform for `c` (some members lead elsewhere than others).
    private func chain(from s: Int32, cls c: Int32, _ p: ClassPartition) -> StateRun? {
        let longest = max(p.longest, p.rest.count - 1)
        var chain: [Int32] = [s]
        var current = s
        while chain.count <= longest {
            guard isUniform(current, for: c) else { return nil }
            var next = current
            for b in p.representative where next >= 0 { next = step(next, b) }
            if next < 0 { return StateRun(partition: p, chain: chain, endless: false) }
            if next == current { return StateRun(partition: p, chain: chain, endless: true) }
            chain.append(next)
            current = next
        }
        return StateRun(partition: p, chain: chain, endless: false)
    }

    /// Whether every member of class `c` leads from state `s` to one same state: each stack's class
    /// holds all of `c` or none of it.
    private func isUniform(_ s: Int32, for c: Int32) -> Bool {
        let state = states[Int(s)]
        guard state.need == 0 else { return false }
        for top in stackSets[Int(state.stacks)] where top != 0 {
            let k = grammar.args[Int(stacks.nodePos[Int(top)])]
            if k == c { continue }
            let key = Int64(c) << 32 | Int64(k)
            let relation: CharacterRanges.Relation
            if let known = classRelations[key] {
                relation = known
            } else {
                relation = CharacterRanges.relation(grammar.classes[Int(c)], to: grammar.classes[Int(k)])
                classRelations[key] = relation
            }
            if relation == .partial { return false }
        }
        return true
    }
}
