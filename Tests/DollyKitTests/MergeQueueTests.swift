import XCTest
@testable import DollyKit

/// The two queues of candidate merges must hand out keys smallest first, whatever order they are
/// pushed in (the reference: taking the minimum of what was pushed). Long pieces go through
/// `RunQueue`, whose out-of-order path real text reaches rarely.
final class MergeQueueTests: XCTestCase {
    func testQueuesPopSmallestFirst() {
        var rng = SystemRandomNumberGenerator()
        for ascendingBias in [0.0, 0.5, 0.95] {
            var runs = RunQueue()
            runs.reset(rankCount: 64)
            var heap = MinHeap()
            var reference: [UInt64] = []
            var used = Set<UInt64>()
            var nextPosition = [UInt64](repeating: 0, count: 64)
            for step in 0..<6_000 {
                if Double.random(in: 0..<1, using: &rng) < 0.6 || reference.isEmpty {
                    let rank = UInt64.random(in: 0..<64, using: &rng)
                    // Mostly increasing positions per rank, as BPE pushes them, with some out of order.
                    var position = Double.random(in: 0..<1, using: &rng) < ascendingBias
                        ? nextPosition[Int(rank)] + UInt64.random(in: 1...5, using: &rng) : UInt64.random(in: 0..<100_000, using: &rng)
                    while used.contains(rank << 32 | position) { position += 100_000 }
                    nextPosition[Int(rank)] = max(nextPosition[Int(rank)], position)
                    let key = rank << 32 | position
                    used.insert(key)
                    reference.append(key)
                    runs.push(key)
                    heap.push(key)
                } else {
                    let least = reference.min()!
                    reference.remove(at: reference.firstIndex(of: least)!)
                    XCTAssertEqual(runs.popMin(), least, "step \(step)")
                    XCTAssertEqual(heap.popMin(), least, "step \(step)")
                }
            }
            for least in reference.sorted() {
                XCTAssertEqual(runs.popMin(), least)
                XCTAssertEqual(heap.popMin(), least)
            }
            XCTAssertNil(runs.popMin())
            XCTAssertNil(heap.popMin())
        }
    }
}
