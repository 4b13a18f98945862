/// The queue of candidate merges for long pieces: the same order as `MinHeap` (rank, then position),
/// kept mostly as runs instead of one large heap.
///
/// Candidates of one rank are mostly pushed in increasing position: the first ones are pushed left
/// to right, and each rank's merges run left to right and push their successors in that order. So
/// each rank gets a run, a list of positions appended in increasing order and read from the front;
/// a small heap holds the head of every run that has one, and a general heap takes the few pushes
/// that arrive out of order. A megabyte of one letter then costs a few sequential passes instead
/// of millions of pops from a heap far larger than the caches.
struct RunQueue: MergeQueue {
    private struct Run {
        var positions: [UInt32] = []
        var cursor = 0
        var isEmpty: Bool { cursor == positions.count }
    }

    /// Run index by rank, -1 for none; only `usedRanks`' entries are ever set.
    private var runOf: [Int32] = []
    private var usedRanks: [Int] = []
    private var runs: [Run] = []
    private var runCount = 0
    /// `rank << 32 | position` of each non-empty run's first unread position.
    private var heads = MinHeap()
    private var general = MinHeap()

    /// Empties the queue, keeping its memory, for a vocabulary of `rankCount` merges.
    mutating func reset(rankCount: Int) {
        if runOf.count != rankCount { runOf = [Int32](repeating: -1, count: rankCount) }
        for r in usedRanks { runOf[r] = -1 }
        usedRanks.removeAll(keepingCapacity: true)
        for i in 0..<runCount {
            runs[i].positions.removeAll(keepingCapacity: true)
            runs[i].cursor = 0
        }
        runCount = 0
        heads.storage.removeAll(keepingCapacity: true)
        general.storage.removeAll(keepingCapacity: true)
    }

    mutating func push(_ key: UInt64) {
        let rank = Int(key >> 32), position = UInt32(truncatingIfNeeded: key)
        var index = Int(runOf[rank])
        if index < 0 {
            if runCount == runs.count { runs.append(Run()) }
            index = runCount
            runCount += 1
            runOf[rank] = Int32(index)
            usedRanks.append(rank)
        }
        if runs[index].isEmpty {
            runs[index].positions.removeAll(keepingCapacity: true)
            runs[index].cursor = 0
            runs[index].positions.append(position)
            heads.push(key)
        } else if position > runs[index].positions[runs[index].positions.count - 1] {
            runs[index].positions.append(position)
        } else {
            general.push(key)
        }
    }

    mutating func popMin() -> UInt64? {
        let head = heads.storage.first ?? UInt64.max, other = general.storage.first ?? UInt64.max
        if head == UInt64.max && other == UInt64.max { return nil }
        if other < head { return general.popMin() }
        _ = heads.popMin()
        let index = Int(runOf[Int(head >> 32)])
        runs[index].cursor += 1
        if !runs[index].isEmpty {
            heads.push(head & 0xFFFF_FFFF_0000_0000 | UInt64(runs[index].positions[runs[index].cursor]))
        }
        return head
    }
}
