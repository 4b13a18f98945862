#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One request to the model.
public struct GenerationRequest: Sendable {
    /// An instruction (wrapped in Dolly's template) or, with `raw`, a plain prompt.
    public var text: String
    /// Context for the instruction (a passage to answer from, summarise or extract from), given to
    /// the model as the model card does: `{instruction}\n\nInput:\n{context}`. Not for raw prompts.
    public var context: String?
    public var raw: Bool
    public var maxNewTokens: Int
    public var sampling: SamplingParameters
    /// Generation ends where the text would contain one of these; neither it nor anything after
    /// it is returned.
    public var stopTexts: [String]
    /// Prompt-lookup decoding (the same output in fewer forward passes when it copies its context); nil: off.
    public var lookup: PromptLookup?
    /// Grammar jump-forward: with a constraint, the tokens it forces (JSON keys, punctuation) are guessed
    /// and checked in one pass (the same output).
    public var jumpForward = false

    public init(text: String, context: String? = nil, raw: Bool = false, maxNewTokens: Int = 256,
                sampling: SamplingParameters = .dollyDefaults, stopTexts: [String] = []) {
        self.text = text
        self.context = context
        self.raw = raw
        self.maxNewTokens = maxNewTokens
        self.sampling = sampling
        self.stopTexts = stopTexts
    }
}

extension DollyModel {
    /// The token ids the model sees for a request.
    public func promptTokens(for request: GenerationRequest) throws -> [Int32] {
        if request.raw {
            guard request.context == nil else { throw ModelError.invalidRequest("a raw prompt takes no context") }
            return tokenizer.encode(request.text)
        }
        return tokenizer.encode(DollyPrompt.format(instruction: request.text, context: request.context))
    }

    /// Generates an answer on `session` (reset first: Dolly's pipeline keeps no history), with `draft`
    /// (or `request.lookup`) guessing tokens that are checked in one pass (the same output), streaming
    /// text pieces to `onText` as soon as they are whole UTF-8 and can no longer turn into a stop
    /// text. An instruction's answer is stripped of surrounding whitespace like the pipeline's; a
    /// raw continuation is printed as produced. `isCancelled` is polled after every token (e.g. for
    /// Ctrl-C).
    @discardableResult
    public func generate(_ request: GenerationRequest, session: InferenceSession, draft: DraftModel? = nil,
                         isCancelled: () -> Bool = { false },
                         onText: (String) throws -> Bool) throws -> GenerationResult {
        if let bad = request.sampling.outOfRange {
            throw ModelError.invalidRequest("\(bad.field.rawValue) \(bad.requirement)")
        }
        session.reset()
        let prompt = try promptTokens(for: request)
        var state = GenerationState(prompt: prompt, maxNewTokens: request.maxNewTokens, sampling: request.sampling,
                                    stopTokens: stopTokens, vocabularySize: network.config.vocabSize,
                                    tokenizer: tokenizer, stopTexts: request.stopTexts, strip: !request.raw)
        let result = try TokenGenerator(session: session).run(&state, prompt: prompt, speculation: Speculation(draft: draft, lookup: request.lookup, jumpForward: request.jumpForward)) { _, state in
            let piece = state.newText()
            if !piece.isEmpty, !(try onText(piece)) { return false }
            return !isCancelled()
        }
        let rest = state.finalText()
        if !rest.isEmpty { _ = try onText(rest) }
        return result
    }
}
