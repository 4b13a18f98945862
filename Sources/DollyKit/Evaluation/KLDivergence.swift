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

/// How far a (quantized) model's next-token distributions are from a reference model's on the same
/// text, scored on the same positions as `perplexity` (llama.cpp's `--kl-divergence` statistics).
/// Unlike a perplexity difference it cannot be lowered by luck: noise that happens to raise the
/// probability of the actual next tokens still moves the distribution away from the reference.
public struct DivergenceResult: Sendable {
    /// Perplexity of the model under test and of the reference.
    public var perplexity: PerplexityResult
    public var referencePerplexity: Double
    /// Mean over scored positions of KL(reference || model), in nats.
    public var meanKL: Double
    public var klStandardError: Double
    /// Largest KL at a single position.
    public var maxKL: Double
    /// Share of scored positions whose most likely token is the same under both models.
    public var top1Agreement: Double
}

extension DollyModel {
    /// Runs `self` and `reference` over the same windows (see `perplexity`) and compares their
    /// distributions position by position. Both sessions must hold `context` tokens.
    public func divergence(from reference: DollyModel, text: String, context: Int, session: InferenceSession,
                           referenceSession: InferenceSession,
                           progress: (Int, Int, Double) -> Void = { _, _, _ in }) throws -> DivergenceResult {
        guard reference.config.vocabSize == config.vocabSize else {
            throw EvaluationError.referenceMismatch("has a vocabulary of \(reference.config.vocabSize), this one \(config.vocabSize)")
        }
        let tokens = tokenizer.encode(text)
        guard tokens == reference.tokenizer.encode(text) else {
            throw EvaluationError.referenceMismatch("tokenizes the text differently")
        }
        let vocab = config.vocabSize
        let scored = try ScoredPositions(context: context, vocab: vocab, tokens: tokens.count,
                                         sessions: [session, referenceSession])
        // The reference's log-probabilities of one window's scored positions: (scored.count, vocab).
        var referenceLogProbs = [Float](repeating: 0, count: scored.count * vocab)
        var nll = Accumulator(), referenceNLL = Accumulator(), kl = Accumulator()
        var maxKL = 0.0, agree = 0
        var logProbs = [Double](repeating: 0, count: vocab)

        for c in 0..<scored.windows {
            let window = Array(tokens[c * context..<(c + 1) * context])
            referenceSession.reset()
            try referenceSession.evaluate(window, logits: scored.request { j, row in
                LogProb.all(row, into: &logProbs)
                let base = (j - scored.first) * vocab
                logProbs.withUnsafeBufferPointer { from in
                    referenceLogProbs.withUnsafeMutableBufferPointer { to in
                        for v in 0..<vocab { to[base + v] = Float(from[v]) }
                    }
                }
                referenceNLL.add(-logProbs[Int(window[j + 1])])
            })
            session.reset()
            try session.evaluate(window, logits: scored.request { j, row in
                LogProb.all(row, into: &logProbs)
                nll.add(-logProbs[Int(window[j + 1])])
                let base = (j - scored.first) * vocab
                var d = 0.0, bestRef = 0, best = 0
                logProbs.withUnsafeBufferPointer { q in
                    referenceLogProbs.withUnsafeBufferPointer { all in
                        let r = UnsafeBufferPointer(rebasing: all[base..<(base + vocab)])
                        for v in 0..<vocab {
                            let p = Double(r[v])
                            d += exp(p) * (p - q[v])
                            if r[v] > r[bestRef] { bestRef = v }
                            if q[v] > q[best] { best = v }
                        }
                    }
                }
                kl.add(max(d, 0))
                maxKL = max(maxKL, d)
                if best == bestRef { agree += 1 }
            })
            progress(c + 1, scored.windows, exp(nll.mean))
        }
        return DivergenceResult(
            perplexity: nll.perplexity(windows: scored.windows),
            referencePerplexity: exp(referenceNLL.mean), meanKL: kl.mean, klStandardError: kl.standardError,
            maxKL: maxKL, top1Agreement: Double(agree) / Double(nll.count))
    }
}
