import DollyKit
import Foundation
import Hummingbird

/// OpenAI's two generation endpoints: request → `BatchRequest` (`RequestMapping`) → events → OpenAI's JSON or
/// server-sent events.
struct Completions: Sendable {
    let state: ServerState

    private var mapping: RequestMapping { RequestMapping(state: state) }

    // MARK: - Chat

    func chat(_ request: inout Request, context requestContext: DollyRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(ChatCompletionRequest.self, from: &request, limit: state.configuration.bodyLimit)
        let (model, engine) = try state.ready()
        let plan = try OutputPlan.read(body.output, tools: body.tools, toolChoice: body.toolChoice)
        let chat = try ChatPrompt(body.messages.map(\.turn), toolsContext: plan.toolsContext)
        let ctx = engine.options.context
        let prompt = try await mapping.chatPromptTokens(chat, model.tokenizer, context: ctx,
                                                answerBudget: body.sampling.maxCompletionTokens ?? body.sampling.maxTokens,
                                                in: requestContext)
        try mapping.checkPrompt(prompt.count, context: ctx)
        var top: Int?
        if body.logprobs == true {
            let n = body.topLogprobs ?? 0
            guard (0...5).contains(n) else { throw APIError.invalid("top_logprobs must be in 0...5", param: "top_logprobs") }
            top = n
        }
        var parameters = try mapping.sampling(body.sampling, vocabularySize: model.config.vocabSize)
        parameters.constraint = try await plan.constraint(state: state, context: requestContext)
        let batch = BatchRequest(prompt: prompt, maxNewTokens: try mapping.maxTokens(body.sampling, promptTokens: prompt.count, context: ctx,
                                                                             allowZero: false),
                                 sampling: parameters, stopTexts: try mapping.stopTexts(body.sampling), strip: true,
                                 logprobs: top, adapter: try state.adapter(forModel: body.model))
        let events = try engine.submit(batch)
        let id = RequestMapping.newID("chatcmpl"), created = Int(Date().timeIntervalSince1970)
        let name = batch.adapter == nil ? state.configuration.modelName : body.model!
        let tokenizer = model.tokenizer, wantsLogprobs = top != nil
        @Sendable func logprobs(_ list: [TokenLogprob]) -> ChatLogprobs? {
            wantsLogprobs ? Self.chatLogprobs(list, tokenizer) : nil
        }
        if body.sampling.stream == true {
            let includeUsage = body.sampling.streamOptions?.includeUsage == true
            let callsTools = plan.callsTools
            return StreamFraming.serverSentEvents.response(errorBody: { ["error": $0.body] }) { send in
                var answer = ChatAnswer(callsTools: callsTools)
                try await send(ChatCompletionChunk(id: id, created: created, model: name, choices: [
                    ChatChunkChoice(delta: ChatDelta(role: "assistant", content: ""))]))
                for await event in events {
                    switch event {
                    case let .text(text, _, lps):
                        var deltas = answer.deltas(text)
                        if deltas.isEmpty && !lps.isEmpty { deltas = [ChatDelta()] }  // the log-probabilities still go out
                        for (i, delta) in deltas.enumerated() {
                            try await send(ChatCompletionChunk(id: id, created: created, model: name, choices: [
                                ChatChunkChoice(delta: delta, logprobs: i == 0 ? logprobs(lps) : nil)]))
                        }
                    case let .finished(s):
                        if s.stopReason == .cancelled { throw APIError.shuttingDown }
                        try await send(ChatCompletionChunk(id: id, created: created, model: name, choices: [
                            ChatChunkChoice(delta: ChatDelta(), finishReason: answer.finishReason(s.stopReason))]))
                        if includeUsage {  // as OpenAI: one more chunk, no choices, the usage
                            try await send(ChatCompletionChunk(id: id, created: created, model: name, choices: [],
                                                               usage: Usage(s)))
                        }
                    }
                }
            }
        }
        let (text, lps, summary) = try await Self.collect(events)
        var answer = ChatAnswer(callsTools: plan.callsTools)
        let message = answer.message(text)
        return JSONBody.response(ChatCompletion(id: id, created: created, model: name, choices: [
            ChatChoice(message: message, logprobs: logprobs(lps), finishReason: answer.finishReason(summary.stopReason))],
            usage: Usage(summary)))
    }

    // MARK: - Completions

    func complete(_ request: inout Request, context requestContext: DollyRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(CompletionRequest.self, from: &request, limit: state.configuration.bodyLimit)
        let (model, engine) = try state.ready()
        let plan = try OutputPlan.read(body.output)
        let tokenizer = model.tokenizer
        let ctx = engine.options.context
        let prompt: [Int32], promptText: String
        switch body.prompt {
        case let .text(t):
            prompt = try await mapping.promptTokens(t, tokenizer, context: ctx, param: "prompt", in: requestContext)
            promptText = t
        case let .tokens(ids):
            let vocab = model.config.vocabSize
            if let bad = ids.first(where: { $0 < 0 || Int($0) >= vocab }) {
                throw APIError.invalid("token id \(bad) is outside the vocabulary (\(vocab))", param: "prompt")
            }
            prompt = ids; promptText = tokenizer.decode(ids)
        }
        try mapping.checkPrompt(prompt.count, context: ctx)
        if let n = body.logprobs, !(0...5).contains(n) { throw APIError.invalid("logprobs must be in 0...5", param: "logprobs") }
        let echo = body.echo == true
        var parameters = try mapping.sampling(body.sampling, vocabularySize: model.config.vocabSize)
        parameters.constraint = try await plan.constraint(state: state, context: requestContext)
        let batch = BatchRequest(prompt: prompt, maxNewTokens: try mapping.maxTokens(body.sampling, promptTokens: prompt.count, context: ctx,
                                                                             allowZero: echo),
                                 sampling: parameters, stopTexts: try mapping.stopTexts(body.sampling), strip: false,
                                 logprobs: body.logprobs, promptLogprobs: echo && body.logprobs != nil,
                                 adapter: try state.adapter(forModel: body.model))
        let events = try engine.submit(batch)
        let id = RequestMapping.newID("cmpl"), created = Int(Date().timeIntervalSince1970)
        let name = batch.adapter == nil ? state.configuration.modelName : body.model!
        let offsets = TextOffsets(start: echo ? promptText.count : 0), wantsLogprobs = body.logprobs != nil
        @Sendable func logprobs(_ list: [TokenLogprob], first: Bool) -> CompletionLogprobs? {
            wantsLogprobs ? Self.completionLogprobs(list, firstOfPrompt: first, tokenizer, offsets) : nil
        }
        /// The echoed prompt's entries: its first token has no log-probability.
        let firstToken = prompt[0]
        @Sendable func promptEntries(_ s: BatchSummary) -> [TokenLogprob] {
            [TokenLogprob(token: firstToken, logprob: 0)] + s.promptLogprobs
        }
        if body.sampling.stream == true {
            let includeUsage = body.sampling.streamOptions?.includeUsage == true
            return StreamFraming.serverSentEvents.response(errorBody: { ["error": $0.body] }) { send in
                if echo && body.logprobs == nil {
                    try await send(Completion(id: id, created: created, model: name, choices: [
                        CompletionChoice(text: promptText)]))
                }
                // Prompt log-probabilities arrive with the summary: with them, the answer waits until then.
                let holding = echo && body.logprobs != nil
                var heldText = "", held: [TokenLogprob] = []
                for await event in events {
                    switch event {
                    case let .text(text, _, lps):
                        if holding { heldText += text; held += lps; continue }
                        guard !text.isEmpty || !lps.isEmpty else { continue }
                        try await send(Completion(id: id, created: created, model: name, choices: [
                            CompletionChoice(text: text, logprobs: logprobs(lps, first: false))]))
                    case let .finished(s):
                        if s.stopReason == .cancelled { throw APIError.shuttingDown }
                        if holding {
                            let ptext = promptText
                            try await send(Completion(id: id, created: created, model: name, choices: [
                                CompletionChoice(text: ptext, logprobs: logprobs(promptEntries(s), first: true))]))
                            if !heldText.isEmpty || !held.isEmpty {
                                let answer = heldText
                                try await send(Completion(id: id, created: created, model: name, choices: [
                                    CompletionChoice(text: answer, logprobs: logprobs(held, first: false))]))
                            }
                        }
                        try await send(Completion(id: id, created: created, model: name, choices: [
                            CompletionChoice(text: "", finishReason: RequestMapping.finishReason(s.stopReason))]))
                        if includeUsage {
                            try await send(Completion(id: id, created: created, model: name, choices: [],
                                                      usage: Usage(s)))
                        }
                    }
                }
            }
        }
        let (text, lps, summary) = try await Self.collect(events)
        var all: CompletionLogprobs?
        if body.logprobs != nil {
            if echo {
                all = logprobs(promptEntries(summary), first: true)
                let answer = logprobs(lps, first: false)!
                all!.tokens += answer.tokens
                all!.tokenLogprobs += answer.tokenLogprobs
                all!.topLogprobs += answer.topLogprobs
                all!.textOffset += answer.textOffset
            } else {
                all = logprobs(lps, first: false)
            }
        }
        return JSONBody.response(Completion(id: id, created: created, model: name, choices: [
            CompletionChoice(text: (echo ? promptText : "") + text, logprobs: all,
                             finishReason: RequestMapping.finishReason(summary.stopReason))],
            usage: Usage(summary)))
    }

    /// A whole answer: its text, log-probabilities and summary (a request cancelled by a shutdown: 503).
    static func collect(_ events: AsyncStream<BatchEvent>) async throws -> (String, [TokenLogprob], BatchSummary) {
        var text = "", lps: [TokenLogprob] = [], summary: BatchSummary?
        for await event in events {
            switch event {
            case let .text(t, _, l): text += t; lps += l
            case let .finished(s): summary = s
            }
        }
        guard let summary, summary.stopReason != .cancelled else { throw APIError.shuttingDown }
        return (text, lps, summary)
    }

    static func text(_ id: Int32, _ tokenizer: Tokenizer) -> String {
        String(decoding: tokenizer.tokenBytes(id), as: UTF8.self)
    }

    static func chatLogprobs(_ list: [TokenLogprob], _ tokenizer: Tokenizer) -> ChatLogprobs {
        ChatLogprobs(content: list.map { lp in
            ChatLogprobs.Entry(token: text(lp.token, tokenizer), logprob: lp.logprob, bytes: tokenizer.tokenBytes(lp.token),
                               topLogprobs: lp.top.map { .init(token: text($0.token, tokenizer), logprob: $0.logprob,
                                                                 bytes: tokenizer.tokenBytes($0.token)) })
        })
    }

    /// The legacy logprobs object for `list`; `firstOfPrompt`: the list starts the echoed prompt (its
    /// first token has no log-probability, and offsets restart at 0).
    static func completionLogprobs(_ list: [TokenLogprob], firstOfPrompt: Bool, _ tokenizer: Tokenizer,
                                   _ offsets: TextOffsets) -> CompletionLogprobs {
        if firstOfPrompt { offsets.reset() }
        var out = CompletionLogprobs()
        for (i, lp) in list.enumerated() {
            let token = text(lp.token, tokenizer)
            let none = firstOfPrompt && i == 0
            out.tokens.append(token)
            out.tokenLogprobs.append(none ? nil : lp.logprob)
            out.topLogprobs.append(none ? nil : Dictionary(lp.top.map { (text($0.token, tokenizer), $0.logprob) },
                                                           uniquingKeysWith: max))
            out.textOffset.append(offsets.advance(by: token.count))
        }
        return out
    }
}

/// Character offsets of logprob tokens in the returned text, across streamed chunks.
final class TextOffsets: @unchecked Sendable {
    private var next: Int
    init(start: Int) { next = start }
    func reset() { next = 0 }
    func advance(by n: Int) -> Int {
        defer { next += n }
        return next
    }
}
