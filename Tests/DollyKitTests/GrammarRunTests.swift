@testable import DollyKit
import XCTest

/// Class runs (`StateRun`, `ClassPartition`): masks and end-of-budget narrowing computed from a
/// state's chain must equal what stepping every token byte by byte gives, at the ends of bounded
/// runs too, where tokens that stop inside a UTF-8 sequence are decided by another class.
extension GrammarGenerationTests {
    static let runGrammars = [
        // A bounded run of a large class, closed by a quote, then a bounded run of accented letters.
        ("bounded string", #"root ::= "\"" [^"\\]{0,6} "\"" [\u00e0-\u00ff]{0,2} "." "#),
        // At the run's last state no member is left, but the next class takes two-byte sequences.
        ("run then accents", #"root ::= [^"\u00e0-\u00ff]{0,4} [\u00e0-\u00ff]+ "." "#),
        ("unbounded string", #"root ::= "\"" [^"\\]* "\"" "#),
    ]

    /// Token sequences picked uniformly among the allowed ids at each step (the engine's own
    /// masks; the brute force then checks every step of them).
    func randomWalk(_ c: GrammarConstraint, seed: UInt64, steps: Int) -> [Int32] {
        var rng = SeededGenerator(seed: seed)
        var cursor = c.start()
        var mask = [UInt64](repeating: 0, count: Self.vocabulary.maskWords)
        var tokens: [Int32] = []
        for _ in 0..<steps {
            guard mask.withUnsafeMutableBufferPointer({ cursor.mask(into: $0) }) else { break }
            let allowed = (0..<Self.vocabulary.size).filter { mask[$0 >> 6] >> UInt64($0 & 63) & 1 == 1 }
            let id = Int32(allowed[Int(rng.nextUnit() * Double(allowed.count)) % allowed.count])
            tokens.append(id)
            cursor.advance(token: id)
        }
        return tokens
    }

    func testRunMasksEqualBruteForce() throws {
        for (label, gbnf) in Self.runGrammars {
            for seed: UInt64 in [1, 2] {
                let c = try constraint(gbnf)
                let tokens = randomWalk(c, seed: seed, steps: 12)
                XCTAssertFalse(tokens.isEmpty, label)
                checkEveryStep(c, tokens: tokens, label: "\(label) seed \(seed)")
            }
        }
        // The runs were used (the large classes have partitions).
        let c = try constraint(Self.runGrammars[0].1)
        var cursor = c.start()
        cursor.advance(bytes: Array("\"ab".utf8))
        c.lock.lock()
        let run = c.run(cursor.state)
        c.lock.unlock()
        XCTAssertEqual(run?.chain.count, 5)  // 2 of 6 used: 0...4 more members
        XCTAssertEqual(run?.endless, false)
    }

    /// keepFinishable keeps exactly the allowed tokens after which the grammar can still finish in
    /// budget - 1 tokens (the distance of the state each leads to), unless none can.
    func testFinishNarrowingEqualsPerTokenDistances() throws {
        let words = Self.vocabulary.maskWords
        for (label, gbnf) in Self.runGrammars {
            let c = try constraint(gbnf)
            var cursor = c.start()
            for (step, id) in randomWalk(c, seed: 7, steps: 8).enumerated() {
                var mask = [UInt64](repeating: 0, count: words)
                _ = mask.withUnsafeMutableBufferPointer { cursor.mask(into: $0) }
                // Per allowed token, the distance after it, by stepping its bytes.
                var after: [(id: Int, distance: Int)] = []
                for t in 0..<Self.vocabulary.size where mask[t >> 6] >> UInt64(t & 63) & 1 == 1 {
                    var next = cursor
                    next.advance(token: Int32(t))
                    c.lock.lock()
                    after.append((t, next.isDead ? Int.max : Int(c.distance(next.state))))
                    c.lock.unlock()
                }
                c.lock.lock()
                let here = Int(c.distance(cursor.state))
                c.lock.unlock()
                for budget in Set([1, 2, 3, 5, 8, 13, here, here + 1, here + 2, here + 10]) where budget >= 1 {
                    var narrowed = mask
                    narrowed.withUnsafeMutableBufferPointer { cursor.keepFinishable(budget: budget, mask: $0) }
                    var expected = [UInt64](repeating: 0, count: words)
                    for (t, d) in after where d <= budget - 1 { expected[t >> 6] |= 1 << UInt64(t & 63) }
                    // Nothing cleared when far from the end, or when no token can finish in time.
                    let far = budget > here + GrammarCursor.finishWindow || here > budget
                    if far || expected.allSatisfy({ $0 == 0 }) { expected = mask }
                    XCTAssertEqual(narrowed, expected, "\(label) step \(step) budget \(budget) (distance \(here))")
                }
                cursor.advance(token: id)
            }
        }
    }
}
