#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A conversation on one session that keeps its cache between turns (`dolly chat --history`). Each
/// turn's prompt is `DollyPrompt.conversation` of the earlier exchanges, which begins with the
/// previous prompt and answer, so only the new turn is evaluated.
public final class Conversation {
    public let model: DollyModel
    public let session: InferenceSession
    public private(set) var exchanges: [DollyExchange] = []
    /// The tokens whose keys and values the session holds, in order.
    private var held: [Int32] = []

    public init(model: DollyModel, session: InferenceSession) {
        self.model = model
        self.session = session
        session.reset()
    }

    /// What a turn reused and what it had to leave out.
    public struct Turn: Sendable {
        public var result: GenerationResult
        /// Prompt tokens whose cache was already held.
        public var reusedTokens: Int
        /// Earliest exchanges left out so that the prompt and room for the answer fit the context.
        public var droppedExchanges: Int
    }

    /// Forgets every exchange (the cache is rewound on the next turn).
    public func clear() { exchanges.removeAll() }

    /// Answers `request` (an instruction, optionally with context) after the earlier exchanges,
    /// streaming text as `DollyModel.generate` does, and remembers the exchange.
    @discardableResult
    public func answer(_ request: GenerationRequest, draft: DraftModel? = nil, isCancelled: () -> Bool = { false },
                       onText: (String) throws -> Bool) throws -> Turn {
        guard !request.raw else { throw ModelError.invalidRequest("a conversation answers instructions, not raw prompts") }
        if let bad = request.sampling.outOfRange { throw ModelError.invalidRequest("\(bad.field.rawValue) \(bad.requirement)") }
        let tokenizer = model.tokenizer
        var dropped = 0
        var prompt = tokenizer.encode(DollyPrompt.conversation(exchanges, instruction: request.text, context: request.context))
        // The oldest exchanges go first when the whole and room for an answer (its budget, at most a
        // quarter of the context) do not fit; this turn's prompt alone must.
        let reserve = max(1, min(request.maxNewTokens, session.contextLength / 4))
        while prompt.count + reserve > session.contextLength, !exchanges.isEmpty {
            exchanges.removeFirst()
            dropped += 1
            prompt = tokenizer.encode(DollyPrompt.conversation(exchanges, instruction: request.text, context: request.context))
        }
        var shared = 0
        while shared < held.count, shared < prompt.count, held[shared] == prompt[shared] { shared += 1 }
        shared = min(shared, prompt.count - 1)  // the last prompt token runs: its logits start the answer
        session.rewind(to: shared)
        held.removeLast(held.count - shared)

        var state = GenerationState(prompt: prompt, maxNewTokens: request.maxNewTokens, sampling: request.sampling,
                                    stopTokens: model.stopTokens, vocabularySize: model.config.vocabSize,
                                    tokenizer: tokenizer, stopTexts: request.stopTexts, strip: true)
        var answer = ""
        var result: GenerationResult
        do {
            result = try TokenGenerator(session: session).run(&state, prompt: Array(prompt[shared...]),
                                                              speculation: Speculation(draft: draft, lookup: request.lookup, jumpForward: request.jumpForward),
                                                              lookupContext: prompt) { _, state in
                let piece = state.newText()
                answer += piece
                if !piece.isEmpty, !(try onText(piece)) { return false }
                return !isCancelled()
            }
        } catch {
            // Whatever was evaluated is unknown now: start the next turn from an empty cache.
            session.reset()
            held.removeAll()
            throw error
        }
        let rest = state.finalText()
        answer += rest
        if !rest.isEmpty { _ = try onText(rest) }
        result.promptTokens = prompt.count
        held = Array((prompt + result.tokens).prefix(session.position))
        exchanges.append(DollyExchange(instruction: request.text, context: request.context, answer: answer))
        return Turn(result: result, reusedTokens: shared, droppedExchanges: dropped)
    }
}
