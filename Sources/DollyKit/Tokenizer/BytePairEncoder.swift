import Foundation

/// Byte-pair encoding of one pre-tokenized word, on ids rather than strings: the word starts as
/// one id per byte and the adjacent pair with the lowest merge rank is merged until none is left
/// (ties go to the leftmost pair, as in `tokenizers`).
struct BytePairEncoder: Sendable {
    private struct Merge: Sendable {
        var rank: Int32
        var result: Int32
    }

    /// Id of the single-byte token for each byte, -1 if the vocabulary lacks it.
    private let byteIds: [Int32]
    /// (left id << 32 | right id) → rank and merged id.
    private let merges: [UInt64: Merge]

    init(byteIds: [Int32], mergePairs: [(left: Int32, right: Int32, result: Int32)]) {
        self.byteIds = byteIds
        var table = [UInt64: Merge](minimumCapacity: mergePairs.count)
        for (rank, m) in mergePairs.enumerated() {
            let key = Self.key(m.left, m.right)
            // Like tokenizers, a repeated pair keeps its first (best) rank.
            if table[key] == nil { table[key] = Merge(rank: Int32(rank), result: m.result) }
        }
        merges = table
    }

    @inline(__always)
    private static func key(_ a: Int32, _ b: Int32) -> UInt64 {
        (UInt64(UInt32(bitPattern: a)) << 32) | UInt64(UInt32(bitPattern: b))
    }

    /// Encodes one word, appending its ids to `out`.
    func encode(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        var symbols: [Int32] = []
        symbols.reserveCapacity(bytes.count)
        for b in bytes {
            let id = byteIds[Int(b)]
            // No unknown token in byte-level BPE: a byte missing from the vocabulary is dropped, as tokenizers does.
            if id >= 0 { symbols.append(id) }
        }
        if symbols.count < 2 { out.append(contentsOf: symbols); return }

        // ranks[i] is the rank of the pair (symbols[i], symbols[i+1]); only neighbours of a merge
        // change, so each step costs one scan of plain integers and two dictionary lookups.
        let none = Int32.max
        var ranks = [Int32](repeating: none, count: symbols.count - 1)
        var results = [Int32](repeating: 0, count: symbols.count - 1)
        for i in 0..<(symbols.count - 1) {
            if let m = merges[Self.key(symbols[i], symbols[i + 1])] { ranks[i] = m.rank; results[i] = m.result }
        }
        while true {
            var best = none
            var at = -1
            for i in 0..<ranks.count where ranks[i] < best { best = ranks[i]; at = i }
            if at < 0 { break }
            symbols[at] = results[at]
            symbols.remove(at: at + 1)
            ranks.remove(at: at)
            results.remove(at: at)
            if at > 0 { update(&ranks, &results, symbols, at - 1) }
            if at < ranks.count { update(&ranks, &results, symbols, at) }
        }
        out.append(contentsOf: symbols)
    }

    @inline(__always)
    private func update(_ ranks: inout [Int32], _ results: inout [Int32], _ symbols: [Int32], _ i: Int) {
        if let m = merges[Self.key(symbols[i], symbols[i + 1])] {
            ranks[i] = m.rank; results[i] = m.result
        } else {
            ranks[i] = Int32.max
        }
    }
}

/// Thread-safe memo of word bytes → ids; most words in real text repeat.
final class WordCache: @unchecked Sendable {
    private var entries: [[UInt8]: [Int32]] = [:]
    private let lock = NSLock()
    /// Bounded so that a long-running process fed arbitrary text does not grow without limit.
    private let capacity = 100_000

    func get(_ key: [UInt8]) -> [Int32]? {
        lock.lock(); defer { lock.unlock() }
        return entries[key]
    }

    func set(_ key: [UInt8], _ value: [Int32]) {
        lock.lock(); defer { lock.unlock() }
        if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        entries[key] = value
    }
}
