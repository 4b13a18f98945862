import XCTest
@testable import DollyKit

/// The guess budget picks the count that maximises expected tokens per second from what it measured.
final class GuessBudgetTests: XCTestCase {
    func testFlatPassesAndKeptGuessesGuessTheLimit() {
        var b = GuessBudget(maxDraft: 8)
        for rows in 1...9 { b.recordPass(rows: rows, seconds: 0.060 + 0.001 * Double(rows)) }  // bandwidth-bound
        for _ in 0..<10 { b.recordChecks(guessed: 4, kept: 4) }
        XCTAssertEqual(b.guesses(limit: 8), 8)
        XCTAssertEqual(b.guesses(limit: 3), 3)
    }

    func testRowsThatCostTheirOwnComputeAndRefusedGuessesGuessNothingButProbes() {
        var b = GuessBudget(maxDraft: 8)
        for rows in 1...9 { b.recordPass(rows: rows, seconds: 0.001 * Double(rows)) }  // compute-bound, small model
        for _ in 0..<10 { b.recordChecks(guessed: 4, kept: 0) }
        let picks = (0..<32).map { _ in b.guesses(limit: 8) }
        XCTAssertEqual(picks.filter { $0 > 0 }, [1, 1], "one probe every 16 passes: \(picks)")
    }

    func testAFewCheapRowsPayAtMiddlingAcceptance() {
        var b = GuessBudget(maxDraft: 8)
        // 1 to 5 rows cost about the same; past that each row adds 10%.
        for rows in 1...9 { b.recordPass(rows: rows, seconds: rows <= 5 ? 0.060 : 0.060 * (1 + 0.1 * Double(rows - 5))) }
        for _ in 0..<20 { b.recordChecks(guessed: 2, kept: 1) }  // half the tested guesses kept
        XCTAssertEqual(b.guesses(limit: 8), 4)
    }

    func testWidthsNotTimedAreTriedOneStepAtATime() {
        var small = GuessBudget(maxDraft: 4)
        XCTAssertEqual(small.guesses(limit: 4), 0, "the first pass times one row")
        small.recordPass(rows: 1, seconds: 0.001)
        XCTAssertEqual(small.guesses(limit: 4), 1, "then one guess is tried")
        small.recordPass(rows: 2, seconds: 0.002)  // a row costs its compute (a model in the caches)
        small.recordChecks(guessed: 1, kept: 1)
        XCTAssertEqual(small.guesses(limit: 4), 0, "wider passes extrapolate as steep: none pays")
        var large = GuessBudget(maxDraft: 4)
        _ = large.guesses(limit: 4)
        large.recordPass(rows: 1, seconds: 0.060)
        XCTAssertEqual(large.guesses(limit: 4), 1)
        large.recordPass(rows: 2, seconds: 0.061)  // bound by bandwidth: a second row is almost free
        large.recordChecks(guessed: 1, kept: 1)
        XCTAssertEqual(large.guesses(limit: 4), 4, "flat: the widest is tried")
    }

    func testADraftModelsCostCounts() {
        var b = GuessBudget(maxDraft: 4)
        for rows in 1...5 { b.recordPass(rows: rows, seconds: 0.060) }
        for _ in 0..<10 { b.recordChecks(guessed: 4, kept: 4) }
        b.recordDraft(guesses: 4, seconds: 4 * 0.070)  // a draft slower than the model: never worth it
        XCTAssertEqual(b.guesses(limit: 4), 0)
    }
}
