#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Why a generation ended.
public enum StopReason: String, Sendable {
    /// The model produced a stop token (`### End` or `<|endoftext|>`).
    case stopToken
    /// The text reached one of the request's stop texts.
    case stopText
    /// `maxNewTokens` were produced.
    case maxTokens
    /// The KV cache is full.
    case contextFull
    /// The caller's callback asked to stop.
    case cancelled
    /// The grammar constraint allowed no token (a dead end the vocabulary cannot spell its way out
    /// of, or the constraint engine's size limits), so nothing could be chosen.
    case noAllowedToken
}

public struct GenerationResult: Sendable {
    /// The generated ids, without the stop token.
    public var tokens: [Int32]
    public var stopReason: StopReason
    /// Prompt tokens processed.
    public var promptTokens: Int
    public var promptSeconds: Double
    public var generationSeconds: Double
    /// With prompt lookup: tokens guessed, and how many of them the model's own choices confirmed.
    public var draftedTokens = 0
    public var acceptedTokens = 0
}

/// Runs a `GenerationState` on one session: prompt in, tokens out, one callback per token.
public struct TokenGenerator {
    public let session: InferenceSession

    public init(session: InferenceSession) {
        self.session = session
    }

    /// Evaluates `prompt` after whatever the session holds, then samples up to `maxNewTokens`,
    /// handing each token to `onToken` (return false to stop) before it is fed back.
    public func generate(prompt: [Int32], maxNewTokens: Int, sampling: SamplingParameters,
                         stopTokens: Set<Int32>, onToken: (Int32) throws -> Bool) throws -> GenerationResult {
        var state = GenerationState(prompt: prompt, maxNewTokens: maxNewTokens, sampling: sampling,
                                    stopTokens: stopTokens, vocabularySize: session.model.config.vocabSize)
        return try run(&state, prompt: prompt) { id, _ in try onToken(id) }
    }

    /// Evaluates `prompt`, then drives `state` until it ends: each token goes to `onToken` (with the
    /// state, for its text) and, unless the generation ended, back into the model. `observe` sees the
    /// scores of every choice (the stop token's too).
    ///
    /// With `speculation`, tokens are guessed (from earlier text or by a draft model, after
    /// `lookupContext`: the whole prompt when the session already held part of it, then the output) and
    /// checked in one pass (`runSpeculative`): the same tokens come out, fewer passes make them.
    func run(_ state: inout GenerationState, prompt: [Int32], speculation: Speculation? = nil, lookupContext: [Int32]? = nil,
             observe: ((UnsafeBufferPointer<Float>) -> Void)? = nil,
             onToken: (Int32, inout GenerationState) throws -> Bool) throws -> GenerationResult {
        guard !prompt.isEmpty else { throw ModelError.emptyPrompt }
        if let speculation, speculation.maxDraft > 0 {
            return try runSpeculative(&state, prompt: prompt, speculation: speculation, context: lookupContext ?? prompt,
                                      observe: observe, onToken: onToken)
        }
        let room = session.contextLength - session.position
        guard prompt.count <= room else { throw ModelError.promptTooLong(tokens: prompt.count, limit: room) }
        let t0 = monotonicNanoseconds()
        try session.evaluate(prompt)
        let t1 = monotonicNanoseconds()
        var single: [Int32] = [0]  // reused: no allocation per token
        while let next = state.next(session.lastLogits, observe: observe) {
            if !(try onToken(next, &state)) { state.stop(.cancelled) }
            if state.isFinished { break }
            guard session.position < session.contextLength else {
                state.stop(.contextFull)
                break
            }
            single[0] = next
            try session.evaluate(single)
        }
        return GenerationResult(tokens: state.tokens, stopReason: state.stopReason ?? .maxTokens,
                                promptTokens: prompt.count, promptSeconds: Double(t1 - t0) / 1e9,
                                generationSeconds: Double(monotonicNanoseconds() - t1) / 1e9)
    }
}
