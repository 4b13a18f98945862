@testable import DollyKit
import XCTest

/// The sampler's radix sort against the comparison it replaces: same order, ties included.
final class CandidateSortTests: XCTestCase {
    func testRadixOrderEqualsTheComparatorOrder() {
        var rng = SystemRandomNumberGenerator()
        var sorter = CandidateSorter()
        for n in [0, 1, 2, 255, 256, 257, 1_001, 50_280] {
            for spread in [Float(0.001), 3, 40] {
                var candidates: [(logit: Float, id: Int32)] = (0..<n).map { i in
                    // Coarse values make many ties; signed zeros must tie with each other.
                    var v = (Float.random(in: -spread...spread, using: &rng) * 8).rounded() / 8
                    if i % 97 == 0 { v = -0.0 }
                    if i % 89 == 0 { v = 0.0 }
                    if i % 251 == 0 { v = -Float.greatestFiniteMagnitude }
                    return (v, Int32(i))
                }
                let expected = candidates.sorted { $0.logit > $1.logit || ($0.logit == $1.logit && $0.id < $1.id) }
                sorter.sortDescending(&candidates)
                XCTAssertEqual(candidates.map(\.id), expected.map(\.id), "n \(n), spread \(spread)")
            }
        }
    }

    func testKeysOrderFloatsDescending() {
        let values: [Float] = [.greatestFiniteMagnitude, 1e9, 1, .leastNonzeroMagnitude, 0, -.leastNonzeroMagnitude, -1, -1e9, -.greatestFiniteMagnitude]
        let keys = values.map(CandidateSorter.key)
        XCTAssertEqual(keys, keys.sorted())
        XCTAssertEqual(CandidateSorter.key(-0.0), CandidateSorter.key(0.0))
    }
}
