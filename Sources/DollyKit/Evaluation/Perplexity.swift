#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct PerplexityResult: Sendable {
    public var perplexity: Double
    /// Standard error of the perplexity estimate (from the spread of per-token log-likelihoods).
    public var standardError: Double
    public var scoredTokens: Int
    public var chunks: Int
}

extension DollyModel {
    /// Perplexity the way llama.cpp's `perplexity` tool measures it: the text is cut into
    /// non-overlapping windows of `context` tokens, each evaluated from an empty cache, and only the
    /// second half of every window is scored, so each scored token has at least context/2 before it.
    /// `progress(chunk, chunks, running perplexity)` follows each window.
    public func perplexity(text: String, context: Int, session: InferenceSession,
                           progress: (Int, Int, Double) -> Void = { _, _, _ in }) throws -> PerplexityResult {
        let tokens = tokenizer.encode(text)
        let scored = try ScoredPositions(context: context, vocab: config.vocabSize, tokens: tokens.count,
                                         sessions: [session])
        var nll = Accumulator()
        for c in 0..<scored.windows {
            let window = Array(tokens[c * context..<(c + 1) * context])
            session.reset()
            try session.evaluate(window, logits: scored.request { j, row in
                nll.add(-LogProb.of(Int(window[j + 1]), in: row))
            })
            progress(c + 1, scored.windows, exp(nll.mean))
        }
        return nll.perplexity(windows: scored.windows)
    }
}

/// The positions perplexity scores in a window of `context` tokens: the second half, but for the
/// last position (its next token lies outside the window).
struct ScoredPositions {
    let context: Int
    let vocab: Int
    /// Whole windows in the text.
    let windows: Int

    init(context: Int, vocab: Int, tokens: Int, sessions: [InferenceSession]) throws {
        guard context >= 2 else { throw EvaluationError.windowTooSmall(context) }
        for s in sessions where context > s.contextLength {
            throw EvaluationError.windowExceedsSession(window: context, session: s.contextLength)
        }
        guard tokens >= context else {
            throw EvaluationError.textTooShort(tokens: tokens, window: context)
        }
        self.context = context
        self.vocab = vocab
        self.windows = tokens / context
    }
    var first: Int { context / 2 }
    var count: Int { context - 1 - first }

    /// A logits request handing `body(position, logits)` the scored rows only.
    func request(_ body: @escaping (Int, UnsafeBufferPointer<Float>) -> Void) -> LogitsRequest {
        .all { start, logits in
            for r in 0..<logits.count / vocab {
                let j = start + r
                guard j >= first, j + 1 < context else { continue }
                body(j, UnsafeBufferPointer(rebasing: logits[r * vocab..<(r + 1) * vocab]))
            }
        }
    }
}

/// Running mean and standard error of the mean (of per-token negative log-likelihoods, KL, ...).
struct Accumulator {
    private(set) var count = 0
    private var sum = 0.0, sumSquares = 0.0
    mutating func add(_ x: Double) { count += 1; sum += x; sumSquares += x * x }
    var mean: Double { count > 0 ? sum / Double(count) : 0 }
    var standardError: Double {
        guard count > 0 else { return 0 }
        return (max(0, sumSquares / Double(count) - mean * mean) / Double(count)).squareRoot()
    }

    /// For an accumulator of negative log-likelihoods.
    func perplexity(windows: Int) -> PerplexityResult {
        let ppl = exp(mean)
        return PerplexityResult(perplexity: ppl, standardError: ppl * standardError, scoredTokens: count, chunks: windows)
    }
}
