import Foundation

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
}

public struct GenerationResult: Sendable {
    /// The generated ids, without the stop token.
    public var tokens: [Int32]
    public var stopReason: StopReason
    /// Prompt tokens processed.
    public var promptTokens: Int
    public var promptSeconds: Double
    public var generationSeconds: Double
}

/// Runs the autoregressive loop on one session: prompt in, tokens out, one callback per token.
public struct TokenGenerator {
    public let session: InferenceSession

    public init(session: InferenceSession) {
        self.session = session
    }

    /// Evaluates `prompt` after whatever the session holds, then samples up to `maxNewTokens`,
    /// handing each token to `onToken` (return false to stop) before it is fed back.
    public func generate(prompt: [Int32], maxNewTokens: Int, sampling: SamplingParameters,
                         stopTokens: Set<Int32>, onToken: (Int32) throws -> Bool) throws -> GenerationResult {
        guard !prompt.isEmpty else { throw ModelError.emptyPrompt }
        let room = session.contextLength - session.position
        guard prompt.count <= room else { throw ModelError.promptTooLong(tokens: prompt.count, limit: room) }
        var sampler = Sampler(sampling)
        // Only the processors read the history; without them it stays empty (nothing to keep).
        var history = TokenHistory()
        if sampling.hasProcessors {
            history.reserve(prompt.count + maxNewTokens, vocabularySize: session.model.config.vocabSize)
            history.append(contentsOf: prompt)
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        try session.evaluate(prompt)
        let t1 = DispatchTime.now().uptimeNanoseconds
        var result = GenerationResult(tokens: [], stopReason: .maxTokens, promptTokens: prompt.count,
                                      promptSeconds: Double(t1 - t0) / 1e9, generationSeconds: 0)
        result.tokens.reserveCapacity(maxNewTokens)
        var single: [Int32] = [0]  // reused: no allocation per token
        while result.tokens.count < maxNewTokens {
            let next = sampler.sample(session.lastLogits, history: history)
            if stopTokens.contains(next) {
                result.stopReason = .stopToken
                break
            }
            result.tokens.append(next)
            if sampling.hasProcessors { history.append(next) }
            guard try onToken(next) else {
                result.stopReason = .cancelled
                break
            }
            if result.tokens.count == maxNewTokens { break }
            guard session.position < session.contextLength else {
                result.stopReason = .contextFull
                break
            }
            single[0] = next
            try session.evaluate(single)
        }
        result.generationSeconds = Double(DispatchTime.now().uptimeNanoseconds - t1) / 1e9
        return result
    }
}
