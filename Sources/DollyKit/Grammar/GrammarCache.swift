import Foundation

/// Grammars bound to one tokenizer's vocabulary, kept for reuse: the vocabulary trie is built once
/// (on first use), and the most recently used constraints are kept by their GBNF text, so that
/// requests with the same schema share one automaton and its cached masks. Thread-safe.
public final class GrammarCache: @unchecked Sendable {
    private let tokenizer: Tokenizer
    private let capacity: Int
    private let lock = NSLock()
    private var vocabularyStorage: TokenVocabulary?
    /// Most recently used last.
    private var entries: [(gbnf: String, constraint: GrammarConstraint)] = []

    public init(tokenizer: Tokenizer, capacity: Int = 32) {
        self.tokenizer = tokenizer
        self.capacity = max(1, capacity)
    }

    public var vocabulary: TokenVocabulary {
        lock.withLock {
            if let v = vocabularyStorage { return v }
            let v = TokenVocabulary(tokenizer: tokenizer)
            vocabularyStorage = v
            return v
        }
    }

    /// The kept constraint for `gbnf`, without compiling; nil when there is none.
    public func cached(gbnf: String) -> GrammarConstraint? {
        lock.withLock {
            guard let i = entries.firstIndex(where: { $0.gbnf == gbnf }) else { return nil }
            let entry = entries.remove(at: i)
            entries.append(entry)
            return entry.constraint
        }
    }

    /// The constraint for `gbnf`: kept, or compiled (outside the lock: one slow grammar does not
    /// hold up requests for another) and kept.
    public func constraint(gbnf: String) throws -> GrammarConstraint {
        if let hit = cached(gbnf: gbnf) { return hit }
        let compiled = try GrammarConstraint(grammar: CompiledGrammar(gbnf: gbnf), vocabulary: vocabulary)
        return lock.withLock {
            if let i = entries.firstIndex(where: { $0.gbnf == gbnf }) { return entries[i].constraint }  // raced
            entries.append((gbnf, compiled))
            if entries.count > capacity { entries.removeFirst() }
            return compiled
        }
    }
}
