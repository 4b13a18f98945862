/// The tokenizer's vocabulary as raw bytes, in a trie (`ByteTrie`), and split by the grammar's large
/// character classes (`ClassPartition`). Built once per tokenizer and shared by every constraint
/// on it.
public final class TokenVocabulary: @unchecked Sendable {
    public let size: Int
    /// Per token id, its bytes (empty for ids a constraint never allows: special tokens, unused ids).
    let bytes: [[UInt8]]
    /// Every non-empty token's bytes in a trie.
    let trie: ByteTrie
    /// Partitions by class, built on first use (nil: a class too small for one); under the lock.
    private var partitions: [[ClosedRange<UInt32>]: ClassPartition?] = [:]
    private let partitionLock = Lock()

    /// Every id of `tokenizer` except the special ones (`<|endoftext|>`, `### End` and Dolly's other
    /// template markers): those are never text a grammar could match.
    public convenience init(tokenizer: Tokenizer) {
        var bytes = [[UInt8]](repeating: [], count: tokenizer.vocabularySize)
        for id in 0..<tokenizer.vocabularySize where !tokenizer.isSpecial(Int32(id)) {
            bytes[id] = tokenizer.tokenBytes(Int32(id))
        }
        self.init(tokenBytes: bytes, tokenizer: tokenizer)
    }

    /// The tokenizer the ids are of, when known: it spells forced text as the model would have been
    /// trained to read it (grammar jump-forward's guesses).
    public let tokenizer: Tokenizer?

    /// `tokenBytes[id]`: the bytes of each id; empty ones are never allowed.
    public init(tokenBytes: [[UInt8]], tokenizer: Tokenizer? = nil) {
        size = tokenBytes.count
        bytes = tokenBytes
        self.tokenizer = tokenizer
        trie = ByteTrie(entries: tokenBytes.enumerated().map { ($0.element, Int32($0.offset)) })
    }

    /// The partition of this vocabulary by the class `ranges`, built on first use and kept (nil
    /// when the class spells too little of the vocabulary to be worth one).
    func partition(for ranges: [ClosedRange<UInt32>]) -> ClassPartition? {
        partitionLock.lock()
        defer { partitionLock.unlock() }
        if let known = partitions[ranges] { return known }
        let made = ClassPartition(vocabulary: self, ranges: ranges)
        partitions[ranges] = .some(made)
        return made
    }

    /// Words of a bitset over the vocabulary.
    public var maskWords: Int { (size + 63) / 64 }
}
