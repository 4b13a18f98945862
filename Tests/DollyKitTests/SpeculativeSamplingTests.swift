import XCTest
@testable import DollyKit

/// Speculative sampling's check (a draft draws a guess from its distribution q, the target keeps it with
/// probability min(1, p/q), else draws from the residual) must leave the output's distribution the
/// plain sampler's. Tested on an 8-token vocabulary, two steps (the second step's processors depend on
/// the first token: penalties, n-gram ban), every logits processor and warper on, 10^5 draws each side,
/// by a two-sample chi-square over the 64 pairs of tokens. The seeds are fixed: the test is deterministic.
final class SpeculativeSamplingTests: XCTestCase {
    static let vocabulary = 8
    // Target and draft logits per step; the draft is deliberately off (other favourites, mass where the
    // target's top-k cuts), so guesses are refused often and the residual is exercised.
    static let target: [[Float]] = [[2.0, 1.5, 0.3, 1.1, -0.4, 0.9, -1.2, 0.2], [0.4, 1.8, 1.2, -0.3, 1.0, 0.1, 0.7, -2.0]]
    static let draft: [[Float]] = [[0.5, 2.2, 0.1, 1.4, 1.3, -0.2, 0.8, 0.6], [1.5, 0.2, 1.9, 0.4, -0.5, 1.1, 0.3, 0.9]]
    static let prompt: [Int32] = [1, 3, 1]  // with no_repeat_ngram_size 2, "1 3" bans 3 at the first step
    static let draws = 100_000

    static func everyProcessor(seed: UInt64) -> SamplingParameters {
        var p = SamplingParameters(temperature: 0.9, topP: 0.95, topK: 6, minP: 0.02, repetitionPenalty: 1.3,
                                   noRepeatNgramSize: 2, frequencyPenalty: 0.4, presencePenalty: 0.3, seed: seed)
        p.logitBias = [2: 0.5, 6: -0.7]
        return p
    }

    static func state(seed: UInt64, sampling: (UInt64) -> SamplingParameters) -> GenerationState {
        GenerationState(prompt: prompt, maxNewTokens: 4, sampling: sampling(seed), stopTokens: [], vocabularySize: vocabulary)
    }

    static func pair(_ a: Int32?, _ b: Int32?) -> Int { Int(a!) * vocabulary + Int(b!) }

    /// Two tokens as plain decoding draws them.
    static func plain(seed: UInt64, sampling: (UInt64) -> SamplingParameters) -> Int {
        var s = state(seed: seed, sampling: sampling)
        let first = target[0].withUnsafeBufferPointer { s.next($0) }
        let second = target[1].withUnsafeBufferPointer { s.next($0) }
        return pair(first, second)
    }

    /// Two tokens through a draft's two guesses and their checks, as `runSpeculative` does: after a
    /// refused guess the next token is a plain draw from a new pass.
    static func speculative(seed: UInt64, sampling: (UInt64) -> SamplingParameters, keepEveryGuess: Bool = false) -> Int {
        var s = state(seed: seed, sampling: sampling)
        var proposer = s.proposalCopy(stream: 1)
        var q = [TokenDistribution(), TokenDistribution()]
        let guess0 = draft[0].withUnsafeBufferPointer { proposer.propose($0, into: &q[0]) }!
        let guess1 = draft[1].withUnsafeBufferPointer { proposer.propose($0, into: &q[1]) }!
        if keepEveryGuess { return pair(guess0, guess1) }
        let first = target[0].withUnsafeBufferPointer { s.next($0, checking: guess0, proposal: q[0]) }
        let second = target[1].withUnsafeBufferPointer {
            first == guess0 ? s.next($0, checking: guess1, proposal: q[1]) : s.next($0)
        }
        return pair(first, second)
    }

    /// Two-sample chi-square of equal-size samples and its degrees of freedom (cells seen by either).
    static func chiSquare(_ a: [Int], _ b: [Int]) -> (statistic: Double, freedom: Int) {
        var x2 = 0.0, cells = 0
        for (x, y) in zip(a, b) where x + y > 0 {
            x2 += Double((x - y) * (x - y)) / Double(x + y)
            cells += 1
        }
        return (x2, cells - 1)
    }

    /// The statistic's 99.9th percentile (Wilson–Hilferty).
    static func critical(freedom k: Int) -> Double {
        let d = Double(k), z = 3.09
        return d * pow(1 - 2 / (9 * d) + z * (2 / (9 * d)).squareRoot(), 3)
    }

    static func histograms(sampling: (UInt64) -> SamplingParameters, keepEveryGuess: Bool = false) -> ([Int], [Int]) {
        var plainCounts = [Int](repeating: 0, count: vocabulary * vocabulary)
        var fastCounts = plainCounts
        for i in 0..<UInt64(draws) {
            plainCounts[plain(seed: 2 * i, sampling: sampling)] += 1
            fastCounts[speculative(seed: 2 * i + 1, sampling: sampling, keepEveryGuess: keepEveryGuess)] += 1
        }
        return (plainCounts, fastCounts)
    }

    func testTheOutputFollowsThePlainSamplersDistributionWithEveryProcessorOn() {
        let (plain, fast) = Self.histograms(sampling: Self.everyProcessor)
        let (x2, k) = Self.chiSquare(plain, fast)
        print("speculative sampling, every processor: chi-square \(x2) on \(k) degrees of freedom (99.9%: \(Self.critical(freedom: k)))")
        XCTAssertGreaterThan(k, 15, "the pairs seen: \(plain)")
        XCTAssertLessThan(x2, Self.critical(freedom: k), "chi-square \(x2) on \(k) degrees of freedom")
        // The processors matter here: the n-gram ban keeps 3 out of the first token on both sides.
        var banned = 0
        for second in 0..<Self.vocabulary { banned += plain[3 * Self.vocabulary + second] + fast[3 * Self.vocabulary + second] }
        XCTAssertEqual(banned, 0)
    }

    func testTheOutputFollowsThePlainSamplersDistributionWithoutProcessors() {
        let (plain, fast) = Self.histograms { SamplingParameters(temperature: 1, topP: 1, seed: $0) }
        let (x2, k) = Self.chiSquare(plain, fast)
        print("speculative sampling, no processor: chi-square \(x2) on \(k) degrees of freedom (99.9%: \(Self.critical(freedom: k)))")
        XCTAssertEqual(k, 63)
        XCTAssertLessThan(x2, Self.critical(freedom: k), "chi-square \(x2) on \(k) degrees of freedom")
    }

    /// The test has the power to see a wrong rule: keeping every guess gives the draft's distribution.
    func testKeepingEveryGuessIsCaught() {
        let (plain, fast) = Self.histograms(sampling: Self.everyProcessor, keepEveryGuess: true)
        let (x2, k) = Self.chiSquare(plain, fast)
        print("keeping every guess: chi-square \(x2) on \(k) degrees of freedom")
        XCTAssertGreaterThan(x2, 10 * Self.critical(freedom: k))
    }

    /// Greedy, the check is the plain choice: the arg-max after the processors, whatever the guess.
    func testGreedyChecksChooseThePlainArgmax() {
        for guess: Int32 in 0..<8 {
            var plain = Self.state(seed: 1) { _ in SamplingParameters(greedy: true, repetitionPenalty: 1.3) }
            var checked = plain
            var proposer = checked.proposalCopy(stream: 1)
            var q = TokenDistribution()
            _ = Self.draft[0].withUnsafeBufferPointer { proposer.propose($0, into: &q) }
            XCTAssertEqual(q.probabilities, [1], "a greedy proposal is one token")
            let a = Self.target[0].withUnsafeBufferPointer { plain.next($0) }
            let b = Self.target[0].withUnsafeBufferPointer { checked.next($0, checking: guess, proposal: q) }
            XCTAssertEqual(a, b)
        }
    }
}
