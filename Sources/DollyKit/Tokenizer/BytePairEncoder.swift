/// Byte-pair encoding of one pre-tokenized piece, on ids rather than strings: the piece starts as
/// one id per byte and the adjacent pair with the lowest merge rank is merged until none is left
/// (ties go to the leftmost pair, as in `tokenizers`).
///
/// The symbols form a linked list and the candidate merges a min-heap keyed by (rank, position), the
/// approach of `tokenizers`' word model: each merge costs O(log n), so a piece of n bytes costs
/// O(n log n) where rescanning every pair after each merge cost O(n²) (a 1 MB word took minutes).
/// A heap entry goes stale when either of its symbols has since merged with another; it is then
/// skipped. Symbols only grow rightwards from where they start, so the pair now at a position
/// has the popped entry's rank exactly when it is still the same pair.
struct BytePairEncoder: Sendable {
    /// Id of the single-byte token for each byte, -1 if the vocabulary lacks it.
    let byteIds: [Int32]
    private let merges: MergeTable

    /// Working memory of one `Tokenizer.encode` call, reused for all its pieces: encoding allocates
    /// per call, not per token.
    struct Scratch {
        fileprivate var ids: [Int32] = []
        fileprivate var next: [Int32] = []
        fileprivate var prev: [Int32] = []
        fileprivate var heap = MinHeap()
        fileprivate var runs = RunQueue()
    }

    /// From this many symbols on, candidates go through a `RunQueue` rather than one heap: the same
    /// order, without a heap larger than the caches (what keeps a megabyte-long word linear in practice).
    private static let runMinimum = 1 << 14

    /// Pops between two cancellation checks inside one piece (a few milliseconds of work).
    private static let checkEvery = 1 << 16

    init(byteIds: [Int32], mergePairs: [(left: Int32, right: Int32, result: Int32)]) {
        self.byteIds = byteIds
        merges = MergeTable(mergePairs)
    }

    /// Encodes one piece, appending its ids to `out`; stops with `TokenizerError.cancelled` when
    /// `isCancelled` says so (checked every `checkEvery` merges, so only long pieces ever check).
    func encode(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [Int32], scratch: inout Scratch,
                isCancelled: (() -> Bool)?) throws {
        if bytes.count == 1 {
            let id = byteIds[Int(bytes[0])]
            if id >= 0 { out.append(id) }
            return
        }
        scratch.ids.removeAll(keepingCapacity: true)
        for b in bytes {
            let id = byteIds[Int(b)]
            // No unknown token in byte-level BPE: a byte missing from the vocabulary is dropped, as tokenizers does.
            if id >= 0 { scratch.ids.append(id) }
        }
        let n = scratch.ids.count
        if n < 2 { out.append(contentsOf: scratch.ids); return }
        if n == 2 {
            let m = merges.lookup(scratch.ids[0], scratch.ids[1])
            if m == MergeTable.none { out.append(contentsOf: scratch.ids) } else { out.append(Int32(truncatingIfNeeded: m)) }
            return
        }
        scratch.next.removeAll(keepingCapacity: true)
        scratch.prev.removeAll(keepingCapacity: true)
        for i in 0..<n {
            scratch.next.append(i + 1 < n ? Int32(i + 1) : -1)
            scratch.prev.append(Int32(i - 1))
        }
        if n >= Self.runMinimum {
            // Swapped out of the scratch while in use, so its storage stays uniquely owned (no copy on write).
            var queue = RunQueue()
            swap(&queue, &scratch.runs)
            defer { swap(&queue, &scratch.runs) }
            queue.reset(rankCount: merges.rankCount)
            for i in 0..<(n - 1) {  // in increasing position: every rank's run takes them in order
                let m = merges.lookup(scratch.ids[i], scratch.ids[i + 1])
                if m != MergeTable.none { queue.push(m & 0xFFFF_FFFF_0000_0000 | UInt64(i)) }
            }
            try merge(&scratch, &queue, isCancelled: isCancelled)
        } else {
            var heap = MinHeap()
            swap(&heap, &scratch.heap)
            defer { swap(&heap, &scratch.heap) }
            heap.storage.removeAll(keepingCapacity: true)
            for i in 0..<(n - 1) {
                let m = merges.lookup(scratch.ids[i], scratch.ids[i + 1])
                if m != MergeTable.none { heap.storage.append(m & 0xFFFF_FFFF_0000_0000 | UInt64(i)) }
            }
            heap.heapify()
            try merge(&scratch, &heap, isCancelled: isCancelled)
        }
        scratch.ids.withUnsafeBufferPointer { ids in
            var i: Int32 = 0
            while i >= 0 {
                out.append(ids[Int(i)])
                i = scratch.next[Int(i)]
            }
        }
    }

    private func merge<Queue: MergeQueue>(_ s: inout Scratch, _ queue: inout Queue, isCancelled: (() -> Bool)?) throws {
        var pops = 0
        while let top = queue.popMin() {
            pops += 1
            if pops & (Self.checkEvery - 1) == 0, let isCancelled, isCancelled() { throw TokenizerError.cancelled }
            let pos = Int(top & 0xFFFF_FFFF)
            let left = s.ids[pos]
            if left < 0 { continue }  // merged into its left neighbour since
            let right = Int(s.next[pos])
            if right < 0 { continue }
            let m = merges.lookup(left, s.ids[right])
            if m == MergeTable.none || m >> 32 != top >> 32 { continue }  // the pair changed since
            let merged = Int32(truncatingIfNeeded: m)
            s.ids[pos] = merged
            s.ids[right] = -1
            let after = s.next[right]
            s.next[pos] = after
            if after >= 0 { s.prev[Int(after)] = Int32(pos) }
            let before = s.prev[pos]
            if before >= 0 {
                let p = merges.lookup(s.ids[Int(before)], merged)
                if p != MergeTable.none { queue.push(p & 0xFFFF_FFFF_0000_0000 | UInt64(before)) }
            }
            if after >= 0 {
                let q = merges.lookup(merged, s.ids[Int(after)])
                if q != MergeTable.none { queue.push(q & 0xFFFF_FFFF_0000_0000 | UInt64(pos)) }
            }
        }
    }
}

/// Candidate merges, `rank << 32 | position`, taken smallest first.
protocol MergeQueue {
    mutating func push(_ key: UInt64)
    mutating func popMin() -> UInt64?
}

/// A 4-ary min-heap of packed `rank << 32 | position` keys: the smallest rank first, and among equal
/// ranks the leftmost position, which is the order `tokenizers` merges in. Four children to a node
/// halve the levels of a binary heap and sit in one cache line.
struct MinHeap: MergeQueue {
    var storage: [UInt64] = []

    /// Orders `storage`, filled in any order, in O(n).
    mutating func heapify() {
        var i = (storage.count + 2) / 4
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    mutating func push(_ value: UInt64) {
        storage.append(value)
        storage.withUnsafeMutableBufferPointer { h in
            var i = h.count - 1
            while i > 0 {
                let parent = (i - 1) >> 2
                if h[parent] <= value { break }
                h[i] = h[parent]
                i = parent
            }
            h[i] = value
        }
    }

    mutating func popMin() -> UInt64? {
        guard let last = storage.popLast() else { return nil }
        if storage.isEmpty { return last }
        let top = storage[0]
        storage[0] = last
        siftDown(0)
        return top
    }

    private mutating func siftDown(_ start: Int) {
        storage.withUnsafeMutableBufferPointer { h in
            let n = h.count
            let value = h[start]
            var i = start
            while true {
                let first = 4 * i + 1
                if first >= n { break }
                var child = first
                var smallest = h[first]
                for c in (first + 1)..<min(first + 4, n) where h[c] < smallest {
                    child = c
                    smallest = h[c]
                }
                if value <= smallest { break }
                h[i] = smallest
                i = child
            }
            h[i] = value
        }
    }
}
