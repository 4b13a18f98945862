#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What a grammar constraint costs per token: the cost of the mask at each step of real
/// generations, measured by replaying their tokens on a fresh constraint in the same order (so the
/// lazily built states and masks are computed exactly when the generations computed them), then
/// once more on the same constraint (what a server that has seen the grammar before pays).
public enum GrammarBenchmark {
    public struct Result: Sendable {
        /// Microseconds for the mask of each step (all generations, in order), on a fresh constraint.
        public var maskMicroseconds: [Double]
        /// The same steps replayed again on that constraint: every state and mask already known.
        public var warmMaskMicroseconds: [Double]
        /// Microseconds to bind the grammar to the vocabulary (the start state).
        public var bindMicroseconds: Double

        public static func percentile(_ samples: [Double], _ p: Double) -> Double {
            let sorted = samples.sorted()
            guard !sorted.isEmpty else { return 0 }
            // Nearest rank: the smallest value with at least p% of the samples at or below it.
            let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
            return sorted[min(max(rank, 1), sorted.count) - 1]
        }

        public func percentile(_ p: Double) -> Double { Self.percentile(maskMicroseconds, p) }
    }

    /// Replays `sequences` (token ids of generations under `grammar`, each with `budget` tokens at
    /// most) and times every mask, the end-of-budget narrowing included.
    public static func replay(grammar: CompiledGrammar, vocabulary: TokenVocabulary, sequences: [[Int32]],
                              budget: Int) throws -> Result {
        let t0 = monotonicNanoseconds()
        let constraint = try GrammarConstraint(grammar: grammar, vocabulary: vocabulary)
        let bind = Double(monotonicNanoseconds() - t0) / 1e3
        var mask = [UInt64](repeating: 0, count: vocabulary.maskWords)
        func pass() -> [Double] {
            var times: [Double] = []
            for tokens in sequences {
                var cursor = constraint.start()
                for step in 0...tokens.count {
                    let start = monotonicNanoseconds()
                    mask.withUnsafeMutableBufferPointer { words in
                        if cursor.mask(into: words) && !cursor.isComplete {
                            cursor.keepFinishable(budget: budget - step, mask: words)
                        }
                    }
                    times.append(Double(monotonicNanoseconds() - start) / 1e3)
                    if step < tokens.count { cursor.advance(token: tokens[step]) }
                }
            }
            return times
        }
        let cold = pass()
        return Result(maskMicroseconds: cold, warmMaskMicroseconds: pass(), bindMicroseconds: bind)
    }
}
