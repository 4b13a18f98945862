/// The merge rules as an open-addressing hash table: (left id, right id) → (rank, merged id).
/// Looking up a pair is the inner step of byte-pair encoding; `Dictionary`'s seeded SipHash costs
/// several times more than the table's one multiply, and the keys are plain integers nobody chooses
/// at run time (they come from tokenizer.json), so a fixed hash is safe here.
struct MergeTable: Sendable {
    /// What `lookup` answers for a pair without a merge.
    static let none = UInt64.max

    /// Key `left << 32 | right`; ids are non-negative, so `none` is never a key and marks empty slots.
    private var keys: [UInt64]
    /// `rank << 32 | merged id`, so that comparing values compares ranks.
    private var values: [UInt64]
    private let shift: UInt64
    private let mask: Int
    /// Ranks run from 0 to `rankCount - 1`.
    let rankCount: Int

    init(_ pairs: [(left: Int32, right: Int32, result: Int32)]) {
        var bits: UInt64 = 4
        while (1 << bits) < pairs.count * 2 { bits += 1 }  // load factor at most 1/2
        keys = [UInt64](repeating: Self.none, count: 1 << bits)
        values = [UInt64](repeating: 0, count: 1 << bits)
        shift = 64 - bits
        mask = (1 << Int(bits)) - 1
        rankCount = pairs.count
        for (rank, m) in pairs.enumerated() {
            // Like tokenizers, a repeated pair keeps its first (best) rank.
            insertIfAbsent(Self.key(m.left, m.right), UInt64(rank) << 32 | UInt64(UInt32(bitPattern: m.result)))
        }
    }

    @inline(__always)
    static func key(_ a: Int32, _ b: Int32) -> UInt64 {
        (UInt64(UInt32(bitPattern: a)) << 32) | UInt64(UInt32(bitPattern: b))
    }

    @inline(__always)
    private func slot(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    private mutating func insertIfAbsent(_ key: UInt64, _ value: UInt64) {
        var i = slot(key)
        while keys[i] != Self.none {
            if keys[i] == key { return }
            i = (i + 1) & mask
        }
        keys[i] = key
        values[i] = value
    }

    /// `rank << 32 | merged id` for the pair, or `none`.
    @inline(__always)
    func lookup(_ a: Int32, _ b: Int32) -> UInt64 {
        let key = Self.key(a, b)
        return keys.withUnsafeBufferPointer { k in
            var i = slot(key)
            while true {
                let found = k[i]
                if found == key { return values.withUnsafeBufferPointer { $0[i] } }
                if found == Self.none { return Self.none }
                i = (i + 1) & mask
            }
        }
    }
}
