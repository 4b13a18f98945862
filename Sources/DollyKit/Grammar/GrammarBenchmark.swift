import Foundation

/// What a grammar constraint costs per token: the cost of the mask at each step of real
/// generations, measured by replaying their tokens on a fresh constraint in the same order (so the
/// lazily built states and masks are computed exactly when the generations computed them).
public enum GrammarBenchmark {
    public struct Result: Sendable {
        /// Microseconds for the mask of each step (all generations, in order).
        public var maskMicroseconds: [Double]
        /// Microseconds to bind the grammar to the vocabulary (the start state).
        public var bindMicroseconds: Double

        public func percentile(_ p: Double) -> Double {
            let sorted = maskMicroseconds.sorted()
            guard !sorted.isEmpty else { return 0 }
            // Nearest rank: the smallest value with at least p% of the samples at or below it.
            let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
            return sorted[min(max(rank, 1), sorted.count) - 1]
        }
    }

    /// Replays `sequences` (token ids of generations under `grammar`) and times every mask.
    public static func replay(grammar: CompiledGrammar, vocabulary: TokenVocabulary, sequences: [[Int32]]) throws -> Result {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let constraint = try GrammarConstraint(grammar: grammar, vocabulary: vocabulary)
        let bind = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e3
        var mask = [UInt64](repeating: 0, count: vocabulary.maskWords)
        var times: [Double] = []
        for tokens in sequences {
            var cursor = constraint.start()
            for step in 0...tokens.count {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = mask.withUnsafeMutableBufferPointer { cursor.mask(into: $0) }
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3)
                if step < tokens.count { cursor.advance(token: tokens[step]) }
            }
        }
        return Result(maskMicroseconds: times, bindMicroseconds: bind)
    }
}
