#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A compiled grammar bound to a vocabulary: per parser state, the set of token ids whose bytes keep
/// the output inside the language. Its states form a DFA over bytes, built lazily: a state is a set
/// of parser stacks plus an unfinished UTF-8 sequence, every byte transition is computed once, and
/// the token mask of a state is computed once by walking the vocabulary trie from it (a rejected
/// byte prunes the subtree) and then served from a cache. One instance is shared by every
/// generation using the grammar (held by reference; a lock guards the caches), each generation
/// keeping only its current state (`GrammarCursor`).
public final class GrammarConstraint: @unchecked Sendable {
    public let grammar: CompiledGrammar
    public let vocabulary: TokenVocabulary

    struct State: Hashable {
        var stacks: Int32
        /// The code point bits read so far and the continuation bytes still needed (0: none).
        var value: UInt32
        var need: UInt8
        /// The lead byte while only it has been read (it limits the second byte), else 0.
        var lead: UInt8
    }

    let lock = Lock()
    var stacks: GrammarStacks
    var stackSets: [[Int32]] = []
    private var stackSetIds: [[Int32]: Int32] = [:]
    var states: [State] = []
    private var stateIds: [State: Int32] = [:]
    /// row(s)[b]: the state after byte b, `unknown`, or `dead`. Raw blocks of 256 rows, added as
    /// states are: a block never moves, so growing costs no copy (a doubled table copied up to
    /// 16 MiB in one step), and the trie walk reads rows through pointers, without the exclusivity
    /// checks a class's array property costs on every access.
    private var transitionBlocks: [UnsafeMutablePointer<Int32>] = []
    private static let rowsPerBlock = 256
    private var maskOffset: [Int32] = []
    private var maskStore: [UInt64] = []
    private var walkStack: [(node: Int32, state: Int32)] = []
    private let initialState: Int32

    static let unknown: Int32 = -2
    static let dead: Int32 = -1
    /// Bounds on the lazily built tables (a state costs 1 KiB of transitions, a mask 6 KiB at
    /// vocabulary 50k); past them a new state is dead and masks are recomputed instead of kept.
    static let maxStates = 60_000
    static let maxCachedMasks = 4_096

    deinit {
        for block in transitionBlocks { block.deallocate() }
    }

    public init(grammar: CompiledGrammar, vocabulary: TokenVocabulary) throws {
        self.grammar = grammar
        self.vocabulary = vocabulary
        stacks = GrammarStacks(grammar: grammar)
        guard let tops = stacks.initial() else { throw GrammarError.tooLarge("the grammar's start expands to too many parses") }
        initialState = 0
        _ = intern(State(stacks: internStacks(tops), value: 0, need: 0, lead: 0))
        distances = GrammarDistance(grammar: grammar)
    }

    /// Approximate bytes its lazily built tables hold (transitions, masks, end-of-budget levels).
    public var memoryBytes: Int {
        lock.withLock { transitionBlocks.count << 18 + maskStore.count * 8 + finishLevelWords * 8 + states.count * 64 }
    }

    /// Whether a table reached its bound: new states would be dead ends and masks recomputed every
    /// time. A cache should then start afresh for new generations (running ones keep this one).
    public var isSaturated: Bool {
        lock.withLock { states.count >= Self.maxStates * 9 / 10 || maskStore.count / max(vocabulary.maskWords, 1) >= Self.maxCachedMasks }
    }

    /// A cursor at the start of the grammar, for one generation.
    public func start() -> GrammarCursor {
        GrammarCursor(constraint: self, state: initialState)
    }

    // MARK: - States

    private func internStacks(_ tops: [Int32]) -> Int32 {
        if let id = stackSetIds[tops] { return id }
        let id = Int32(stackSets.count)
        stackSets.append(tops)
        stackSetIds[tops] = id
        return id
    }

    private func intern(_ s: State) -> Int32 {
        if let id = stateIds[s] { return id }
        guard states.count < Self.maxStates else { return Self.dead }
        let id = Int32(states.count)
        states.append(s)
        stateIds[s] = id
        if Int(id) == transitionBlocks.count * Self.rowsPerBlock {
            let block = UnsafeMutablePointer<Int32>.allocate(capacity: Self.rowsPerBlock << 8)
            block.initialize(repeating: Self.unknown, count: Self.rowsPerBlock << 8)
            transitionBlocks.append(block)
        }
        maskOffset.append(-1)
        return id
    }

    /// Per state met, its class run (`GrammarRuns`; nil: none), and per grammar class its
    /// vocabulary partition (outer nil: not looked up yet).
    var runs: [Int32: StateRun?] = [:]
    lazy var classPartitions = [ClassPartition??](repeating: nil, count: grammar.classes.count)
    var classRelations: [Int64: CharacterRanges.Relation] = [:]

    /// Shortest completions (`GrammarDistance`): per position, per stack node, per state.
    var distances: GrammarDistance?
    /// Per state met near the end of a budget, its tokens by the distance they leave (bounded).
    var finishLevels: [Int32: FinishLevels] = [:]
    var finishLevelWords = 0
    var finishScratch: [UInt64] = []
    static let maxFinishLevelWords = 8 << 20  // 64 MiB

    /// The transitions of state `s` (256 entries).
    @inline(__always)
    func row(_ s: Int32) -> UnsafeMutablePointer<Int32> {
        transitionBlocks[Int(s) / Self.rowsPerBlock] + (Int(s) % Self.rowsPerBlock) << 8
    }

    /// The state after `byte` (computed once, then read from the table).
    func step(_ s: Int32, _ byte: UInt8) -> Int32 {
        let t = row(s)[Int(byte)]
        if t != Self.unknown { return t }
        let next = computeStep(states[Int(s)], byte)
        row(s)[Int(byte)] = next
        return next
    }

    private func computeStep(_ s: State, _ b: UInt8) -> Int32 {
        var value: UInt32, need: UInt8, lead: UInt8 = 0
        if s.need == 0 {
            switch b {
            case 0x00...0x7F: return acceptScalar(s.stacks, UInt32(b))
            case 0xC2...0xDF: value = UInt32(b & 0x1F); need = 1
            case 0xE0...0xEF: value = UInt32(b & 0x0F); need = 2
            case 0xF0...0xF4: value = UInt32(b & 0x07); need = 3
            default: return Self.dead
            }
            lead = b
        } else {
            // The second byte's range depends on the lead (no overlong forms, surrogates or > U+10FFFF).
            var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
            switch s.lead {
            case 0xE0: lo = 0xA0
            case 0xED: hi = 0x9F
            case 0xF0: lo = 0x90
            case 0xF4: hi = 0x8F
            default: break
            }
            guard b >= lo && b <= hi else { return Self.dead }
            value = s.value << 6 | UInt32(b & 0x3F)
            need = s.need - 1
            if need == 0 { return acceptScalar(s.stacks, value) }
        }
        // Unfinished: go on only if some stack accepts a code point this sequence can still become.
        // After the lead byte alone its range is clipped to what the second byte may still give.
        let shift = UInt32(6 * need)
        var lo = value << shift, hi = lo | (1 << shift - 1)
        if lead == 0xE0 { lo = max(lo, 0x800) }
        if lead == 0xF0 { lo = max(lo, 0x10000) }
        if lead == 0xED { hi = min(hi, 0xD7FF) }
        hi = min(hi, CharacterRanges.maxScalar)
        guard lo <= hi, stacks.accepts(stackSets[Int(s.stacks)], lo, hi) else { return Self.dead }
        return intern(State(stacks: s.stacks, value: value, need: need, lead: lead))
    }

    private func acceptScalar(_ set: Int32, _ c: UInt32) -> Int32 {
        guard let tops = stacks.accept(stackSets[Int(set)], c), !tops.isEmpty else { return Self.dead }
        return intern(State(stacks: internStacks(tops), value: 0, need: 0, lead: 0))
    }

    // MARK: - For cursors (all under the lock)

    func advance(_ s: Int32, bytes: [UInt8]) -> Int32 {
        lock.lock()
        defer { lock.unlock() }
        var s = s
        for b in bytes {
            s = step(s, b)
            if s < 0 { return Self.dead }
        }
        return s
    }

    /// The bytes state `s` forces: while exactly one byte may follow and the output could not end
    /// here, that byte (at most `limit`).
    func forcedBytes(_ s: Int32, limit: Int) -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        var out: [UInt8] = [], s = s
        while out.count < limit {
            let state = states[Int(s)]
            if state.need == 0 && stackSets[Int(state.stacks)].first == 0 { break }  // complete: it may end here
            var only = -1, next = Self.dead
            for b in 0..<256 {
                let t = step(s, UInt8(b))
                guard t >= 0 else { continue }
                if only >= 0 { return out }  // a choice
                only = b
                next = t
            }
            guard only >= 0 else { break }
            out.append(UInt8(only))
            s = next
        }
        return out
    }

    func isComplete(_ s: Int32) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        let state = states[Int(s)]
        return state.need == 0 && stackSets[Int(state.stacks)].first == 0
    }

    /// Writes the mask of state `s` into `mask` (maskWords words); true when any token is allowed.
    func mask(_ s: Int32, into mask: UnsafeMutableBufferPointer<UInt64>) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        let words = vocabulary.maskWords
        if maskOffset[Int(s)] < 0 {
            guard maskStore.count / words < Self.maxCachedMasks else {
                for w in 0..<words { mask[w] = 0 }
                fill(s, mask)
                return mask.contains { $0 != 0 }
            }
            let offset = maskStore.count
            maskStore.append(contentsOf: repeatElement(0, count: words))
            maskStore.withUnsafeMutableBufferPointer { fill(s, UnsafeMutableBufferPointer(rebasing: $0[offset ..< offset + words])) }
            maskOffset[Int(s)] = Int32(offset)
        }
        let offset = Int(maskOffset[Int(s)])
        var any: UInt64 = 0
        maskStore.withUnsafeBufferPointer { store in
            for w in 0..<words {
                mask[w] = store[offset + w]
                any |= store[offset + w]
            }
        }
        return any != 0
    }

    /// Sets the bits of the tokens allowed from state `s`: through its class run when it has one
    /// (`GrammarRuns`), else by walking the whole vocabulary trie.
    private func fill(_ s: Int32, _ mask: UnsafeMutableBufferPointer<UInt64>) {
        guard let run = run(s) else {
            walk(vocabulary.trie, from: s, into: mask)
            return
        }
        // Run tokens (full ones and those ending inside a member's UTF-8 sequence) by length;
        // the others walked from the chain's state after their leading members.
        let p = run.partition
        if let range = p.runTokens(upTo: run.live) {
            p.upTo.withUnsafeBufferPointer { upTo in
                for (w, i) in range.enumerated() { mask[w] |= upTo[i] }
            }
        }
        for m in p.rest.indices where m <= run.live && !p.rest[m].isEmpty {
            walk(p.rest[m], from: run.state(after: m), into: mask)
        }
        // At the chain's last state no member is left, but another class may take the sequence.
        if !run.endless, run.live < p.unfinishedRest.count {
            walk(p.unfinishedRest[run.live], from: run.state(after: run.live), into: mask)
        }
    }

    /// Walks `trie` from state `s`: every entry whose bytes all step to a live state is allowed.
    /// The hot loop of a new state's mask: the trie arrays and the transition rows are read
    /// through local pointers.
    private func walk(_ trie: ByteTrie, from s: Int32, into mask: UnsafeMutableBufferPointer<UInt64>) {
        var pending = walkStack
        walkStack = []
        pending.removeAll(keepingCapacity: true)
        pending.append((0, s))
        trie.firstEdge.withUnsafeBufferPointer { firstEdge in
        trie.edgeByte.withUnsafeBufferPointer { edgeByte in
        trie.edgeTarget.withUnsafeBufferPointer { edgeTarget in
        trie.firstToken.withUnsafeBufferPointer { firstToken in
        trie.tokenIds.withUnsafeBufferPointer { tokenIds in
            while let (node, state) = pending.popLast() {
                let row = self.row(state)
                for e in Int(firstEdge[Int(node)]) ..< Int(firstEdge[Int(node) + 1]) {
                    var next = row[Int(edgeByte[e])]
                    if next == Self.unknown {
                        next = step(state, edgeByte[e])
                    }
                    if next < 0 { continue }
                    let child = Int(edgeTarget[e])
                    for t in Int(firstToken[child]) ..< Int(firstToken[child + 1]) {
                        let id = Int(tokenIds[t])
                        mask[id >> 6] |= 1 << UInt64(id & 63)
                    }
                    if firstEdge[child] < firstEdge[child + 1] { pending.append((Int32(child), next)) }
                }
            }
        } } } } }
        walkStack = pending
    }
}

/// One generation's place in a grammar: a state of the shared `GrammarConstraint`.
public struct GrammarCursor: Sendable {
    public let constraint: GrammarConstraint
    private(set) var state: Int32

    init(constraint: GrammarConstraint, state: Int32) {
        self.constraint = constraint
        self.state = state
    }

    /// Whether the output so far is a whole sentence of the grammar (a stop token may end it).
    public var isComplete: Bool { state >= 0 && constraint.isComplete(state) }
    /// Whether the output so far has left the grammar (or hit the engine's limits).
    public var isDead: Bool { state < 0 }

    /// Moves past token `id`'s bytes; a token the mask did not allow leaves the cursor dead.
    public mutating func advance(token id: Int32) {
        guard state >= 0, id >= 0, Int(id) < constraint.vocabulary.size else { state = GrammarConstraint.dead; return }
        let bytes = constraint.vocabulary.bytes[Int(id)]
        state = bytes.isEmpty ? GrammarConstraint.dead : constraint.advance(state, bytes: bytes)
    }

    /// Moves past raw bytes (for tests and callers that feed text).
    public mutating func advance(bytes: [UInt8]) {
        guard state >= 0 else { return }
        state = constraint.advance(state, bytes: bytes)
    }

    /// Tokens spelling what the grammar forces next (it allows one byte at a time there): the
    /// tokenizer's encoding of its whole characters (how the model saw such text in training), else
    /// the longest vocabulary tokens that fit. Grammar jump-forward's guesses (at most `limit`).
    public func forcedTokens(limit: Int, into tokens: inout [Int32]) {
        tokens.removeAll(keepingCapacity: true)
        guard state >= 0, limit > 0 else { return }
        var bytes = constraint.forcedBytes(state, limit: 64)
        if let tokenizer = constraint.vocabulary.tokenizer {
            while let last = bytes.last, last >= 0x80, String(validating: bytes, as: UTF8.self) == nil { bytes.removeLast() }
            if !bytes.isEmpty, let text = String(validating: bytes, as: UTF8.self) {
                // The last token is left out: the text goes on past the forced part, and BPE tends to
                // merge across that edge (`"` then `:` is one token, `":`), so it is seldom the model's.
                tokens.append(contentsOf: tokenizer.encode(text).dropLast().prefix(limit))
            }
            return
        }
        var at = 0
        while at < bytes.count, tokens.count < limit,
              let (id, length) = constraint.vocabulary.trie.longestToken(prefixOf: bytes[at...]) {
            tokens.append(id)
            at += length
        }
    }

    /// Tokens within this many of the end of the budget are checked one by one (`keepFinishable`).
    public static let finishWindow = 64

    /// Narrows `mask` to tokens after which the grammar can still be finished in `budget - 1` more
    /// tokens (`budget`: the tokens left, this one included), when some are; so a constrained answer
    /// ends complete whenever its budget allows the grammar's shortest completion.
    public func keepFinishable(budget: Int, mask: UnsafeMutableBufferPointer<UInt64>) {
        guard state >= 0 else { return }
        constraint.keepFinishable(state, budget: budget, window: Self.finishWindow, mask: mask)
    }

    /// The allowed tokens as a bitset over the vocabulary; false when none is (stop tokens are the
    /// caller's to add when `isComplete`).
    public func mask(into mask: UnsafeMutableBufferPointer<UInt64>) -> Bool {
        guard state >= 0 else {
            for w in mask.indices { mask[w] = 0 }
            return false
        }
        return constraint.mask(state, into: mask)
    }
}
