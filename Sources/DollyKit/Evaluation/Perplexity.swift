import Foundation

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
        guard context >= 2 else { throw ModelError.badConfig("--context must be at least 2") }
        guard context <= session.contextLength else {
            throw ModelError.badConfig("--context \(context) exceeds the session's \(session.contextLength)")
        }
        let chunks = tokens.count / context
        guard chunks >= 1 else {
            throw ModelError.badConfig("the text has \(tokens.count) tokens; perplexity needs at least --context (\(context))")
        }
        let scored = ScoredPositions(context: context, vocab: config.vocabSize)
        var sum = 0.0, sumSquares = 0.0, count = 0
        for c in 0..<chunks {
            let window = Array(tokens[c * context..<(c + 1) * context])
            session.reset()
            try session.evaluate(window, logits: scored.request { j, row in
                let nll = -LogProb.of(Int(window[j + 1]), in: row)
                sum += nll
                sumSquares += nll * nll
                count += 1
            })
            progress(c + 1, chunks, exp(sum / Double(max(count, 1))))
        }
        let mean = sum / Double(count)
        let variance = max(0, sumSquares / Double(count) - mean * mean)
        let ppl = exp(mean)
        return PerplexityResult(perplexity: ppl, standardError: ppl * (variance / Double(count)).squareRoot(),
                                scoredTokens: count, chunks: chunks)
    }
}

/// The positions perplexity scores in a window of `context` tokens: the second half, but for the
/// last position (its next token lies outside the window).
struct ScoredPositions {
    let context: Int
    let vocab: Int
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
