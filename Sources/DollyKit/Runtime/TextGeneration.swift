import Foundation

/// One request to the model.
public struct GenerationRequest: Sendable {
    /// An instruction (wrapped in Dolly's template) or, with `raw`, a plain prompt.
    public var text: String
    public var raw: Bool
    public var maxNewTokens: Int
    public var sampling: SamplingParameters

    public init(text: String, raw: Bool = false, maxNewTokens: Int = 256, sampling: SamplingParameters = .dollyDefaults) {
        self.text = text
        self.raw = raw
        self.maxNewTokens = maxNewTokens
        self.sampling = sampling
    }
}

extension DollyModel {
    /// The token ids the model sees for a request.
    public func promptTokens(for request: GenerationRequest) -> [Int32] {
        tokenizer.encode(request.raw ? request.text : DollyPrompt.format(instruction: request.text))
    }

    /// Generates an answer on `session` (reset first: Dolly's pipeline keeps no history), streaming
    /// text pieces to `onText` as soon as they are whole UTF-8. An instruction's answer is stripped
    /// of surrounding whitespace like the pipeline's; a raw continuation is printed as produced.
    /// `isCancelled` is polled after every token (e.g. for Ctrl-C).
    @discardableResult
    public func generate(_ request: GenerationRequest, session: InferenceSession, isCancelled: () -> Bool = { false },
                         onText: (String) throws -> Bool) throws -> GenerationResult {
        session.reset()
        let prompt = promptTokens(for: request)
        var decoder = StreamingDecoder(tokenizer: tokenizer, skipSpecialTokens: false)
        var stripper = StrippingStream()
        let raw = request.raw
        let result = try TokenGenerator(session: session).generate(
            prompt: prompt, maxNewTokens: request.maxNewTokens, sampling: request.sampling,
            stopTokens: stopTokens
        ) { id in
            var piece = decoder.append(id)
            if !raw { piece = stripper.push(piece) }
            if !piece.isEmpty, try !onText(piece) { return false }
            return !isCancelled()
        }
        // A generation cut short may end inside a UTF-8 sequence: emit what remains, lossily.
        var tail = decoder.flush()
        if !raw { tail = stripper.push(tail) }
        if !tail.isEmpty { _ = try onText(tail) }
        return result
    }
}
