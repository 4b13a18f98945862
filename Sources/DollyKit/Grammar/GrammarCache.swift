#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Grammars bound to one tokenizer's vocabulary, kept for reuse: the vocabulary trie is built once
/// (on first use), and the most recently used constraints are kept by their GBNF text, so that
/// requests with the same schema share one automaton and its cached masks. Bounded: at most
/// `capacity` grammars and `memoryLimit` bytes of their tables, and one whose tables are full is
/// replaced rather than served with dead ends. Thread-safe.
public final class GrammarCache: @unchecked Sendable {
    private let tokenizer: Tokenizer
    private let capacity: Int
    private let lock = Lock()
    private var vocabularyStorage: TokenVocabulary?
    /// Most recently used last.
    private var entries: [(gbnf: String, constraint: GrammarConstraint)] = []

    /// Bytes the kept constraints' tables may hold together; past it the least recently used go.
    private let memoryLimit: Int

    public init(tokenizer: Tokenizer, capacity: Int = 32, memoryLimit: Int = 512 << 20) {
        self.tokenizer = tokenizer
        self.capacity = max(1, capacity)
        self.memoryLimit = memoryLimit
    }

    public var vocabulary: TokenVocabulary {
        lock.withLock {
            if let v = vocabularyStorage { return v }
            let v = TokenVocabulary(tokenizer: tokenizer)
            vocabularyStorage = v
            return v
        }
    }

    /// The kept constraint for `gbnf`, without compiling; nil when there is none (or the kept one
    /// is saturated: it is dropped, and the next compile starts afresh).
    public func cached(gbnf: String) -> GrammarConstraint? {
        lock.withLock {
            guard let i = entries.firstIndex(where: { $0.gbnf == gbnf }) else { return nil }
            let entry = entries.remove(at: i)
            if entry.constraint.isSaturated { return nil }
            entries.append(entry)
            return entry.constraint
        }
    }

    /// Drops the least recently used constraints until the rest fit the memory limit (the newest
    /// is always kept). Called under the lock.
    private func trim() {
        while entries.count > capacity { entries.removeFirst() }
        var total = entries.reduce(0) { $0 + $1.constraint.memoryBytes }
        while entries.count > 1 && total > memoryLimit {
            total -= entries.removeFirst().constraint.memoryBytes
        }
    }

    /// The constraint for `gbnf`: kept, or compiled (outside the lock: one slow grammar does not
    /// hold up requests for another) and kept.
    public func constraint(gbnf: String) throws -> GrammarConstraint {
        if let hit = cached(gbnf: gbnf) { return hit }
        let compiled = try GrammarConstraint(grammar: CompiledGrammar(gbnf: gbnf), vocabulary: vocabulary)
        compiled.prepareRuns()  // here, off the engine's loop, rather than in its first masks
        return lock.withLock {
            if let i = entries.firstIndex(where: { $0.gbnf == gbnf }) { return entries[i].constraint }  // raced
            entries.append((gbnf, compiled))
            trim()
            return compiled
        }
    }
}
