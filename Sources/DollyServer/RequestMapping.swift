import DollyKit
import Foundation

/// What both APIs' requests have in common on their way to a `BatchRequest`: the sampling controls
/// (OpenAI's fields; Ollama's options are read into the same), stop texts, the answer's budget, and the
/// prompt's tokens (refused early when they cannot fit). Errors name OpenAI's fields; Ollama's routes
/// check their own names first.
struct RequestMapping: Sendable {
    let state: ServerState

    static let defaultMaxTokens = 256

    /// Dolly's pipeline defaults for what the request leaves out, checked by the library's range check.
    func sampling(_ f: SamplingFields, vocabularySize: Int) throws -> SamplingParameters {
        if let n = f.n, n != 1 { throw APIError.invalid("n must be 1", param: "n") }
        var p = SamplingParameters.dollyDefaults
        if let t = f.temperature { p.temperature = t }
        if let v = f.topP { p.topP = v }
        if let v = f.topK { p.topK = v }
        if let v = f.minP { p.minP = v }
        if let v = f.repetitionPenalty { p.repetitionPenalty = v }
        if let v = f.noRepeatNgramSize { p.noRepeatNgramSize = v }
        if let v = f.frequencyPenalty { p.frequencyPenalty = v }
        if let v = f.presencePenalty { p.presencePenalty = v }
        p.seed = f.seed
        for (key, bias) in f.logitBias ?? [:] {
            guard let id = Int32(key), id >= 0, Int(id) < vocabularySize else {
                throw APIError.invalid("logit_bias: '\(key)' is not a token id of this model (0..<\(vocabularySize))", param: "logit_bias")
            }
            p.logitBias[id] = bias
        }
        if let bad = p.outOfRange { throw APIError.invalid("\(bad.field.rawValue) \(bad.requirement)", param: bad.field.rawValue) }
        return p
    }

    func stopTexts(_ f: SamplingFields) throws -> [String] {
        let texts = f.stop?.texts ?? []
        guard texts.count <= 4 else { throw APIError.invalid("at most 4 stop sequences", param: "stop") }
        guard !texts.contains("") else { throw APIError.invalid("stop sequences must not be empty", param: "stop") }
        return texts
    }

    /// max_tokens (or max_completion_tokens); absent, 256 or what the context leaves.
    func maxTokens(_ f: SamplingFields, promptTokens: Int, context: Int, allowZero: Bool) throws -> Int {
        guard let asked = f.maxCompletionTokens ?? f.maxTokens else {
            return max(0, min(Self.defaultMaxTokens, context - promptTokens))
        }
        guard asked >= (allowZero ? 0 : 1) else {
            throw APIError.invalid("max_tokens must be at least \(allowZero ? 0 : 1)", param: "max_tokens")
        }
        return asked
    }

    /// The prompt's tokens, refused before encoding when its length proves it cannot leave room for an
    /// answer in the context (`Tokenizer.encode(_:atMost:)`); large prompts are encoded off the event loop.
    func promptTokens(_ text: String, _ tokenizer: Tokenizer, context: Int, param: String,
                      in request: DollyRequestContext, refuse: Bool = true) async throws -> [Int32] {
        do {
            // Not refusing (a chat that may leave out earlier turns): encode up to the bound, which says "too long".
            return try await RequestWork.run(bytes: text.utf8.count, context: request, state: state) { cancelled in
                try tokenizer.encode(text, atMost: refuse ? context - 1 : context, isCancelled: cancelled)
            }
        } catch TokenizerError.tooManyTokens where !refuse {
            return [Int32](repeating: 0, count: context)  // only its length is read
        } catch let TokenizerError.tooManyTokens(atLeast, _) {
            throw APIError.invalid("the prompt has at least \(atLeast) tokens; the context holds \(context)", param: param)
        }
    }

    /// A chat's prompt tokens, leaving out the oldest exchanges while the prompt and `answerBudget` (or,
    /// absent, a quarter of the context up to 256 tokens) exceed the context.
    func chatPromptTokens(_ chat: ChatPrompt, _ tokenizer: Tokenizer, context: Int, answerBudget: Int?,
                          in request: DollyRequestContext) async throws -> [Int32] {
        let reserve = max(1, answerBudget ?? min(Self.defaultMaxTokens, context / 4))
        var dropped = 0
        while true {
            let tokens = try await promptTokens(chat.text(dropping: dropped), tokenizer, context: context, param: "messages",
                                                in: request, refuse: dropped == chat.exchanges.count)
            if tokens.count + reserve <= context || dropped == chat.exchanges.count { return tokens }
            dropped += 1
        }
    }

    func checkPrompt(_ count: Int, context: Int) throws {
        guard count > 0 else { throw APIError.invalid("the prompt is empty", param: "prompt") }
        guard count < context else {
            throw APIError.invalid("the prompt has \(count) tokens; the context holds \(context)", param: "messages")
        }
    }

    static func finishReason(_ r: StopReason) -> String {
        switch r {
        case .stopToken, .stopText, .cancelled, .noAllowedToken: return "stop"
        case .maxTokens, .contextFull: return "length"
        }
    }

    static func newID(_ prefix: String) -> String {
        prefix + "-" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(24)).lowercased()
    }
}
