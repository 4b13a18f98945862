/// The vocabulary split by one large character class C (a JSON string's characters, say): the
/// tokens spelled only by members of C, by their length in code points, and the rest, by how many
/// members they start with. From a parser state where every member of C leads to the same next
/// state (and so on along a chain of such states, `StateRun`), the full tokens of length n are
/// allowed exactly when the chain lives n steps: one bitset per length answers for all of them, and
/// only the rest are walked byte by byte, each from the chain's state after its leading members.
/// Inside a JSON string that is ~1,100 tokens walked instead of 50,000 (XGrammar's split of
/// context-independent tokens, for character runs). Built once per tokenizer and class
/// (`TokenVocabulary.partition(for:)`).
final class ClassPartition: Sendable {
    let words: Int
    /// The distinct run lengths, ascending (a full token's length in code points; m + 1 for m members
    /// then the start of one more); `upTo[k * words ..< (k + 1) * words]`: the run tokens whose
    /// length is at most lengths[k].
    let lengths: [Int]
    let upTo: [UInt64]
    /// Per length (as `lengths`), whether some full token has it (not only unfinished ones).
    let hasFull: [Bool]
    /// The tokens that end inside a member's UTF-8 sequence (a subset of the run tokens), and for
    /// each the code points it can still become (what the parser's mid-sequence state knows).
    let unfinished: [UInt64]
    let unfinishedTokens: [(id: Int32, members: Int, scalar: UnfinishedScalar)]
    /// rest[m]: the tokens that are not run tokens and start with m members, as a trie of their
    /// bytes after those m (a non-member first, or bytes that are not a whole code point).
    let rest: [ByteTrie]
    /// unfinishedRest[m]: the unfinished run tokens of m members, as a trie of their last bytes:
    /// walked only from the last state of a chain, where no member is left but another class may
    /// still take the sequence.
    let unfinishedRest: [ByteTrie]
    /// The UTF-8 bytes of one member (the smallest): a chain steps with it.
    let representative: [UInt8]

    /// An unfinished UTF-8 sequence: the continuation bytes it still needs and the code points it
    /// can become.
    struct UnfinishedScalar: Sendable {
        let need: Int
        let low: UInt32
        let high: UInt32
    }

    var longest: Int { lengths.last ?? 0 }

    /// Only classes that spell at least an eighth of the vocabulary are worth a partition; the
    /// byte walk prunes the others quickly.
    static let minimumShare = 8

    /// The words of `upTo` for the run tokens no longer than `n`, or nil when there is none.
    func runTokens(upTo n: Int) -> Range<Int>? {
        var lo = 0, hi = lengths.count  // the first length > n
        while lo < hi {
            let mid = (lo + hi) / 2
            if lengths[mid] <= n { lo = mid + 1 } else { hi = mid }
        }
        return lo == 0 ? nil : (lo - 1) * words ..< lo * words
    }

    init?(vocabulary v: TokenVocabulary, ranges: [ClosedRange<UInt32>]) {
        guard let first = ranges.first, let lowest = Unicode.Scalar(first.lowerBound) else { return nil }
        representative = Array(String(lowest).utf8)
        let words = v.maskWords
        // Per id: a full token's length in code points; for a token of m members followed by the
        // start of a member (an unfinished UTF-8 sequence that can still become one), m + 1; else 0.
        var runLength = [UInt16](repeating: 0, count: v.size)
        var unfinished = [UInt64](repeating: 0, count: words)
        var unfinishedTokens: [(id: Int32, members: Int, scalar: UnfinishedScalar)] = []
        var full = 0
        var restEntries: [[(bytes: ArraySlice<UInt8>, id: Int32)]] = []
        var unfinishedEntries: [[(bytes: ArraySlice<UInt8>, id: Int32)]] = []
        for id in 0..<v.size {
            let bytes = v.bytes[id]
            guard !bytes.isEmpty else { continue }
            var i = 0, members = 0
            while i < bytes.count, let (c, length) = CharacterRanges.decode(bytes, at: i), CharacterRanges.contains(ranges, c) {
                i += length
                members += 1
            }
            guard members < Int(UInt16.max), i <= Int(UInt16.max) else { return nil }
            if i == bytes.count {
                runLength[id] = UInt16(members)
                full += 1
                continue
            }
            if let scalar = Self.unfinishedScalar(bytes[i...]), CharacterRanges.intersects(ranges, scalar.low, scalar.high) {
                runLength[id] = UInt16(members + 1)
                unfinished[id >> 6] |= 1 << UInt64(id & 63)
                unfinishedTokens.append((Int32(id), members, scalar))
                while unfinishedEntries.count <= members { unfinishedEntries.append([]) }
                unfinishedEntries[members].append((bytes[i...], Int32(id)))
            } else {
                while restEntries.count <= members { restEntries.append([]) }
                restEntries[members].append((bytes[i...], Int32(id)))
            }
        }
        guard full * Self.minimumShare >= v.size else { return nil }
        let lengths = Set(runLength.lazy.filter { $0 > 0 }.map(Int.init)).sorted()
        var upTo = [UInt64](repeating: 0, count: lengths.count * words)
        var slot = [Int](repeating: 0, count: (lengths.last ?? 0) + 1)
        for (k, n) in lengths.enumerated() { slot[n] = k }
        for id in 0..<v.size where runLength[id] > 0 {
            upTo[slot[Int(runLength[id])] * words + id >> 6] |= 1 << UInt64(id & 63)
        }
        for k in lengths.indices.dropFirst() {
            for w in 0..<words { upTo[k * words + w] |= upTo[(k - 1) * words + w] }
        }
        var hasFull = [Bool](repeating: false, count: lengths.count)
        for id in 0..<v.size where runLength[id] > 0 && unfinished[id >> 6] >> UInt64(id & 63) & 1 == 0 {
            hasFull[slot[Int(runLength[id])]] = true
        }
        self.hasFull = hasFull
        self.words = words
        self.lengths = lengths
        self.upTo = upTo
        self.unfinished = unfinished
        self.unfinishedTokens = unfinishedTokens
        self.rest = restEntries.map { ByteTrie(entries: $0) }
        self.unfinishedRest = unfinishedEntries.map { ByteTrie(entries: $0) }
    }

    /// What the parser knows after `bytes` when they are the start of a UTF-8 sequence (a lead and
    /// fewer continuation bytes than it needs): the same ranges `GrammarConstraint.computeStep`
    /// checks, the lead's limits on the second byte included; nil for anything else.
    static func unfinishedScalar(_ bytes: ArraySlice<UInt8>) -> UnfinishedScalar? {
        guard let lead = bytes.first else { return nil }
        var value: UInt32, total: Int
        switch lead {
        case 0xC2...0xDF: value = UInt32(lead & 0x1F); total = 1
        case 0xE0...0xEF: value = UInt32(lead & 0x0F); total = 2
        case 0xF0...0xF4: value = UInt32(lead & 0x07); total = 3
        default: return nil
        }
        let continuation = bytes.dropFirst()
        guard continuation.count < total else { return nil }
        for (k, b) in continuation.enumerated() {
            var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
            if k == 0 {
                switch lead {
                case 0xE0: lo = 0xA0
                case 0xED: hi = 0x9F
                case 0xF0: lo = 0x90
                case 0xF4: hi = 0x8F
                default: break
                }
            }
            guard b >= lo && b <= hi else { return nil }
            value = value << 6 | UInt32(b & 0x3F)
        }
        let need = total - continuation.count
        let shift = UInt32(6 * need)
        var low = value << shift, high = low | (1 << shift - 1)
        if continuation.isEmpty {
            if lead == 0xE0 { low = max(low, 0x800) }
            if lead == 0xF0 { low = max(low, 0x10000) }
            if lead == 0xED { high = min(high, 0xD7FF) }
        }
        high = min(high, CharacterRanges.maxScalar)
        return low <= high ? UnfinishedScalar(need: need, low: low, high: high) : nil
    }
}
