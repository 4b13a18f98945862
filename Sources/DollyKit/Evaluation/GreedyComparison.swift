#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A model's greedy answer next to a reference model's (e.g. a quantized file next to the
/// unquantized folder): where they part, and how close the reference's own decision was there.
/// A quantized model that only departs where the reference's top two logits nearly tie has
/// changed no decision the reference was sure of.
public struct GreedyComparison: Sendable {
    public var tokens: [Int32]
    public var referenceTokens: [Int32]
    /// Index of the first token that differs; nil when the answers are identical.
    public var divergence: Int?
    /// The reference's top-1 minus top-2 logit at every step of its answer.
    public var referenceMargins: [Float]

    public var identical: Bool { divergence == nil }
    /// The reference's margin at the step where the answers part.
    public var marginAtDivergence: Float? {
        divergence.flatMap { $0 < referenceMargins.count ? referenceMargins[$0] : nil }
    }
    public var medianReferenceMargin: Float {
        referenceMargins.isEmpty ? 0 : referenceMargins.sorted()[referenceMargins.count / 2]
    }
}

extension DollyModel {
    /// Greedy decoding from `prompt` until a stop token or `maxNewTokens`, recording at every step
    /// the top-1 minus top-2 logit (the stop token is included in `tokens`). The logits processors
    /// of `sampling` (repetition penalty, no-repeat n-gram) apply first, as they do in greedy
    /// generation; its warpers don't.
    public func greedyTrace(prompt: [Int32], maxNewTokens: Int, session: InferenceSession,
                            sampling: SamplingParameters = .greedyDecoding) throws -> (tokens: [Int32], margins: [Float]) {
        session.reset()
        guard config.vocabSize >= 2 else { throw EvaluationError.vocabularyTooSmall(config.vocabSize) }
        guard prompt.count + maxNewTokens <= session.contextLength else {
            throw EvaluationError.promptExceedsContext(prompt: prompt.count, newTokens: maxNewTokens,
                                                        context: session.contextLength)
        }
        // The same decode loop and token choice as `generate`, greedy, with a look at each step's scores.
        var greedy = sampling
        greedy.greedy = true
        var state = GenerationState(prompt: prompt, maxNewTokens: maxNewTokens, sampling: greedy, stopTokens: stopTokens,
                                    vocabularySize: config.vocabSize)
        var margins: [Float] = []
        _ = try TokenGenerator(session: session).run(&state, prompt: prompt,
                                                     observe: { margins.append(Self.topTwoMargin($0)) },
                                                     onToken: { _, _ in true })
        return (state.tokens + (state.stopToken.map { [$0] } ?? []), margins)
    }

    /// The largest score minus the second largest (ties give 0).
    static func topTwoMargin(_ scores: UnsafeBufferPointer<Float>) -> Float {
        var best = -Float.infinity, second = -Float.infinity
        for v in scores where v > second {
            if v > best { second = best; best = v } else { second = v }
        }
        return best - second
    }

    /// This model's greedy answer to `request` against `reference`'s (each on its own session).
    public func compareGreedy(with reference: DollyModel, request: GenerationRequest, session: InferenceSession,
                              referenceSession: InferenceSession) throws -> GreedyComparison {
        let prompt = try promptTokens(for: request)
        guard prompt == (try reference.promptTokens(for: request)) else {
            throw EvaluationError.referenceMismatch("tokenizes the prompt differently")
        }
        let mine = try greedyTrace(prompt: prompt, maxNewTokens: request.maxNewTokens, session: session,
                                   sampling: request.sampling)
        let theirs = try reference.greedyTrace(prompt: prompt, maxNewTokens: request.maxNewTokens, session: referenceSession,
                                               sampling: request.sampling)
        let common = zip(mine.tokens, theirs.tokens).prefix { $0 == $1 }.count
        let same = common == mine.tokens.count && common == theirs.tokens.count
        return GreedyComparison(tokens: mine.tokens, referenceTokens: theirs.tokens, divergence: same ? nil : common,
                                referenceMargins: theirs.margins)
    }
}
