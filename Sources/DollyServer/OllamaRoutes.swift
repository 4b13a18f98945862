import DollyKit
import Foundation
import Hummingbird

/// Ollama's API beside OpenAI's, on the same engine: /api/generate, /api/chat (NDJSON streams by
/// default), /api/tags, /api/show, /api/ps, /api/version. Errors are Ollama's `{"error": "..."}`
/// (`ErrorMiddleware` writes that shape under /api/).
struct OllamaRoutes: Sendable {
    let state: ServerState
    private var mapper: RequestMapping { RequestMapping(state: state) }

    static func register(on router: Router<DollyRequestContext>, state: ServerState) {
        let routes = OllamaRoutes(state: state)
        router.post("api/generate") { request, context -> Response in
            var request = request
            return try await routes.generate(&request, context: context)
        }
        router.post("api/chat") { request, context -> Response in
            var request = request
            return try await routes.chat(&request, context: context)
        }
        router.get("api/tags") { _, _ -> Response in
            let base = try routes.entry()
            let adapted = state.adapters.all.map { a -> OllamaModelEntry in
                var e = base
                e.name = routes.name + "+" + a.name + ":latest"
                e.model = e.name
                return e
            }
            return JSONBody.response(OllamaModelList(models: [base] + adapted))
        }
        router.get("api/ps") { _, _ -> Response in
            var entry = try routes.entry()
            entry.expiresAt = "2318-01-01T00:00:00Z"  // as Ollama says for a model kept loaded for good
            entry.sizeVram = 0
            entry.contextLength = try state.ready().engine.options.context
            return JSONBody.response(OllamaModelList(models: [entry]))
        }
        router.post("api/show") { request, context -> Response in
            var request = request
            let body = try await JSONBody.decode(OllamaShowRequest.self, from: &request, limit: state.configuration.bodyLimit)
            try routes.check(model: body.model)
            return JSONBody.response(try routes.show())
        }
        router.get("api/version") { _, _ -> Response in JSONBody.response(["version": DollyVersion.string]) }
    }

    /// Ollama's `done_reason`.
    static func doneReason(_ r: StopReason) -> String { RequestMapping.finishReason(r) }

    var name: String { state.configuration.modelName }

    /// The model a request names must be this one, with or without Ollama's `:latest` tag, or this one
    /// with an adapter (`name+adapter`); returns that adapter.
    @discardableResult
    func check(model: String) throws -> LoRAAdapter? {
        let plain = model.hasSuffix(":latest") ? String(model.dropLast(7)) : model
        if plain == name { return nil }
        guard plain.hasPrefix(name + "+") else { throw APIError.modelNotFound(model) }
        return try state.adapter(forModel: plain)
    }

    // MARK: - generate

    func generate(_ request: inout Request, context requestContext: DollyRequestContext) async throws -> Response {
        let started = OllamaClock.now()
        let body = try await JSONBody.decode(OllamaGenerateRequest.self, from: &request, limit: state.configuration.bodyLimit)
        try check(model: body.common.model)
        let (model, engine) = try state.ready()
        let label = name + ":latest"
        guard let asked = body.prompt, !asked.isEmpty else {
            // An empty prompt loads the model in Ollama; here it is loaded already.
            let done = OllamaGenerateChunk(model: label, createdAt: OllamaClock.timestamp(), response: "", done: true,
                                           summary: nil)
            return JSONBody.response(LoadAnswer(chunk: done))
        }
        let tokenizer = model.tokenizer, ctx = try contextLimit(body.common, engine: engine, model: model)
        var prompt: [Int32] = []
        let formatted: String
        if body.raw {
            formatted = asked
        } else {
            formatted = DollyPrompt.format(instruction: asked, context: body.system)
        }
        if let earlier = body.context, !earlier.isEmpty {
            let vocab = model.config.vocabSize
            if let bad = earlier.first(where: { $0 < 0 || Int($0) >= vocab }) {
                throw APIError.invalid("context: token id \(bad) is outside the vocabulary (\(vocab))", param: "context")
            }
            // The earlier answer is closed as Dolly's records are (DollyPrompt.record), then this turn follows.
            let tail = tokenizer.decode(Array(earlier.suffix(2)))
            let gap = tail.hasSuffix("\n\n") ? "" : tail.hasSuffix("\n") ? "\n" : "\n\n"
            prompt = earlier + (body.raw ? [] : tokenizer.encode(gap + DollyPrompt.endKey + "\n\n"))
        }
        prompt += try await mapper.promptTokens(formatted, tokenizer, context: ctx, param: "prompt", in: requestContext)
        let batch = try await batchRequest(body.common, prompt: prompt, context: ctx, strip: !body.raw, model: model,
                                           requestContext: requestContext)
        let events = try engine.submit(batch)
        let stream = body.common.stream, promptTokens = prompt
        let wantsLogprobs = body.common.logprobs != nil
        @Sendable func chunk(_ text: String, _ lps: [TokenLogprob]) -> OllamaGenerateChunk {
            OllamaGenerateChunk(model: label, createdAt: OllamaClock.timestamp(), response: text, done: false,
                                logprobs: wantsLogprobs ? Self.logprobs(lps, tokenizer) : nil)
        }
        @Sendable func last(_ s: BatchSummary, generated: [Int32], text: String, lps: [TokenLogprob]) -> OllamaGenerateChunk {
            var c = chunk(text, lps)
            c.done = true
            c.context = promptTokens + generated
            c.summary = OllamaDone(s, started: started)
            return c
        }
        if stream {
            return Self.ndjson { send in
                var generated: [Int32] = []
                for await event in events {
                    switch event {
                    case let .text(text, tokens, lps):
                        generated += tokens
                        if !text.isEmpty || !lps.isEmpty { try await send(chunk(text, lps)) }
                    case let .finished(s):
                        if s.stopReason == .cancelled { throw APIError.shuttingDown }
                        try await send(last(s, generated: generated, text: "", lps: []))
                    }
                }
            }
        }
        let (text, lps, generated, summary) = try await Self.collect(events)
        return JSONBody.response(last(summary, generated: generated, text: text, lps: lps))
    }

    // MARK: - chat

    func chat(_ request: inout Request, context requestContext: DollyRequestContext) async throws -> Response {
        let started = OllamaClock.now()
        let body = try await JSONBody.decode(OllamaChatRequest.self, from: &request, limit: state.configuration.bodyLimit)
        try check(model: body.common.model)
        let (model, engine) = try state.ready()
        let label = name + ":latest"
        guard !body.messages.isEmpty else {
            let done = OllamaChatChunk(model: label, createdAt: OllamaClock.timestamp(),
                                       message: OllamaMessageOut(content: ""), done: true, summary: nil)
            return JSONBody.response(LoadAnswer(chunk: done))
        }
        let plan = try OutputPlan.read(body.common.format?.output ?? OutputFields(), tools: body.tools)
        let chat = try ChatPrompt(body.messages.map(\.turn), toolsContext: plan.toolsContext)
        let ctx = try contextLimit(body.common, engine: engine, model: model)
        let asked = body.common.options?.numPredict.flatMap { $0 > 0 ? $0 : nil }
        let prompt = try await mapper.chatPromptTokens(chat, model.tokenizer, context: ctx, answerBudget: asked, in: requestContext)
        let batch = try await batchRequest(body.common, prompt: prompt, context: ctx, strip: true, model: model,
                                           requestContext: requestContext, plan: plan)
        let events = try engine.submit(batch)
        let tokenizer = model.tokenizer, wantsLogprobs = body.common.logprobs != nil, callsTools = plan.callsTools
        @Sendable func chunk(_ message: OllamaMessageOut, _ lps: [TokenLogprob], done: BatchSummary? = nil) -> OllamaChatChunk {
            OllamaChatChunk(model: label, createdAt: OllamaClock.timestamp(), message: message, done: done != nil,
                            logprobs: wantsLogprobs && !lps.isEmpty ? Self.logprobs(lps, tokenizer) : nil,
                            summary: done.map { OllamaDone($0, started: started) })
        }
        if body.common.stream {
            return Self.ndjson { send in
                var answer = ChatAnswer(callsTools: callsTools), whole = ""
                for await event in events {
                    switch event {
                    case let .text(text, _, lps):
                        whole += text
                        // A call is sent whole at the end, as Ollama does; plain text as it comes.
                        let content = answer.deltas(text).compactMap(\.content).joined()
                        if !content.isEmpty || !lps.isEmpty { try await send(chunk(OllamaMessageOut(content: content), lps)) }
                    case let .finished(s):
                        if s.stopReason == .cancelled { throw APIError.shuttingDown }
                        try await send(chunk(Self.message(whole, callsTools: callsTools, contentSent: true), [], done: s))
                    }
                }
            }
        }
        let (text, lps, _, summary) = try await Self.collect(events)
        return JSONBody.response(chunk(Self.message(text, callsTools: callsTools, contentSent: false), lps, done: summary))
    }

    /// The answer's message: a tool call when the text is a complete one (its arguments as an object),
    /// else the text (empty on a stream's last object, whose text went out already).
    static func message(_ text: String, callsTools: Bool, contentSent: Bool) -> OllamaMessageOut {
        var answer = ChatAnswer(callsTools: callsTools)
        let out = answer.message(text)
        if let call = out.toolCalls?.first, let arguments = try? JSONNode(parsing: call.function.arguments) {
            return OllamaMessageOut(content: "", toolCalls: [.init(function: .init(name: call.function.name, arguments: arguments))])
        }
        return OllamaMessageOut(content: contentSent ? "" : text)
    }

    // MARK: - shared

    /// The tokens prompt and answer may take: the slot's context, or less with `options.num_ctx`.
    func contextLimit(_ common: OllamaCommon, engine: BatchEngine, model: DollyModel) throws -> Int {
        let slot = engine.options.context
        guard let asked = common.options?.numCtx else { return slot }
        guard asked > 0 else { throw APIError.invalid("options.num_ctx must be positive", param: "options") }
        guard asked <= slot else {
            throw APIError.invalid("options.num_ctx \(asked) exceeds the server's context of \(slot) tokens per request "
                                   + "(dolly serve --context, at most the model's \(model.config.maxPositionEmbeddings))",
                                   param: "options")
        }
        return asked
    }

    func batchRequest(_ common: OllamaCommon, prompt: [Int32], context ctx: Int, strip: Bool, model: DollyModel,
                      requestContext: DollyRequestContext, plan: OutputPlan? = nil) async throws -> BatchRequest {
        guard !prompt.isEmpty else { throw APIError.invalid("the prompt is empty", param: "prompt") }
        guard prompt.count < ctx else {
            throw APIError.invalid("the prompt has \(prompt.count) tokens; the context holds \(ctx)", param: "prompt")
        }
        let options = common.options
        var fields = try options?.sampling(stream: common.stream) ?? SamplingFields()
        fields.stream = common.stream
        var parameters = try mapper.sampling(fields, vocabularySize: model.config.vocabSize)
        let plan = try plan ?? OutputPlan.read(common.format?.output ?? OutputFields())
        parameters.constraint = try await plan.constraint(state: state, context: requestContext)
        // num_predict: -1 (or absent) is "until the context is full" in Ollama; here the default budget.
        var budget = ctx - prompt.count
        if let n = options?.numPredict, n >= 0 {
            guard n > 0 else { throw APIError.invalid("options.num_predict must be at least 1 (or -1)", param: "options") }
            budget = min(n, budget)
        } else if let n = options?.numPredict, n < -2 {
            throw APIError.invalid("options.num_predict must be -1, -2 or positive", param: "options")
        }
        let stops = try mapper.stopTexts(fields)
        return BatchRequest(prompt: prompt, maxNewTokens: budget, sampling: parameters, stopTexts: stops, strip: strip,
                            logprobs: common.logprobs, adapter: try check(model: common.model))
    }

    static func logprobs(_ list: [TokenLogprob], _ tokenizer: Tokenizer) -> [OllamaLogprob] {
        list.map { lp in
            OllamaLogprob(token: Completions.text(lp.token, tokenizer), logprob: lp.logprob,
                          topLogprobs: lp.top.isEmpty ? nil : lp.top.map { .init(token: Completions.text($0.token, tokenizer),
                                                                                   logprob: $0.logprob) })
        }
    }

    static func collect(_ events: AsyncStream<BatchEvent>) async throws -> (String, [TokenLogprob], [Int32], BatchSummary) {
        var text = "", lps: [TokenLogprob] = [], tokens: [Int32] = [], summary: BatchSummary?
        for await event in events {
            switch event {
            case let .text(t, ids, l): text += t; lps += l; tokens += ids
            case let .finished(s): summary = s
            }
        }
        guard let summary, summary.stopReason != .cancelled else { throw APIError.shuttingDown }
        return (text, lps, tokens, summary)
    }

    static func ndjson(_ produce: @escaping @Sendable (EventSender) async throws -> Void) -> Response {
        StreamFraming.ndjson.response(errorBody: { ["error": $0.body.message] }, produce)
    }

    // MARK: - the model

    func entry() throws -> OllamaModelEntry {
        let model = try state.ready().model
        return OllamaModelEntry(name: name + ":latest", model: name + ":latest", modifiedAt: modified(),
                                size: model.facts.bytes, digest: digest(model), details: details(model))
    }

    func details(_ model: DollyModel) -> OllamaModelDetails {
        OllamaModelDetails(format: model.facts.format, parameterSize: Self.parameterSize(model.facts.parameterCount),
                           quantizationLevel: model.facts.quantization.uppercased())
    }

    /// "2.8B", "110M": Ollama's way of writing a parameter count.
    static func parameterSize(_ n: Int) -> String {
        let (value, unit) = n >= 1_000_000_000 ? (Double(n) / 1e9, "B") : (Double(n) / 1e6, "M")
        let rounded = (value * 10).rounded() / 10
        return (rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)) + unit
    }

    /// The file's modification time.
    func modified() -> String {
        let attributes = try? FileManager.default.attributesOfItem(atPath: state.configuration.modelPath)
        return OllamaClock.timestamp((attributes?[.modificationDate] as? Date) ?? Date(timeIntervalSince1970: TimeInterval(state.started)))
    }

    /// Ollama names a model's content by a digest; this one names the model as loaded (its path,
    /// size, shape and storage: FNV-1a, 64 bits), which is what a client compares between listings.
    func digest(_ model: DollyModel) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        let identity = "\(state.configuration.modelPath)|\(model.facts.bytes)|\(model.facts.quantization)|\(modified())"
        for b in identity.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    func show() throws -> OllamaShowResponse {
        let (model, engine) = try state.ready()
        let c = model.config, d = SamplingParameters.dollyDefaults
        let template = """
            \(DollyPrompt.intro)

            \(DollyPrompt.instructionKey)
            {{ .Prompt }}
            {{- if .System }}

            \(DollyPrompt.inputKey)
            {{ .System }}
            {{- end }}

            \(DollyPrompt.responseKey)

            """
        let parameters = """
            stop "\(DollyPrompt.endKey)"
            temperature \(d.temperature)
            top_p \(d.topP)
            top_k \(d.topK)
            """
        let info: [String: JSONNode] = [
            "general.architecture": .string("gptneox"),
            "general.parameter_count": .int(Int64(model.facts.parameterCount)),
            "general.file_type": .string(model.facts.quantization),
            "gptneox.context_length": .int(Int64(c.maxPositionEmbeddings)),
            "gptneox.embedding_length": .int(Int64(c.hiddenSize)),
            "gptneox.block_count": .int(Int64(c.numHiddenLayers)),
            "gptneox.feed_forward_length": .int(Int64(c.intermediateSize)),
            "gptneox.attention.head_count": .int(Int64(c.numAttentionHeads)),
            "gptneox.attention.layer_norm_epsilon": .double(c.layerNormEps),
            "gptneox.rope.dimension_count": .int(Int64(c.rotaryDims)),
            "gptneox.rope.freq_base": .double(c.rotaryBase),
            "gptneox.use_parallel_residual": .bool(c.useParallelResidual),
            "tokenizer.vocab_size": .int(Int64(c.vocabSize)),
            "dolly.slot_context": .int(Int64(engine.options.context)),
            "dolly.slots": .int(Int64(engine.options.parallel)),
        ]
        let modelfile = """
            # Served by dolly serve \(DollyVersion.string); Dolly's prompt format is fixed (TEMPLATE below).
            FROM \(state.configuration.modelPath)
            TEMPLATE \"\"\"\(template)\"\"\"
            \(parameters.split(separator: "\n").map { "PARAMETER \($0)" }.joined(separator: "\n"))
            LICENSE MIT
            """
        return OllamaShowResponse(license: "MIT (Databricks' dolly-v2 weights)", modelfile: modelfile, parameters: parameters,
                                  template: template, details: details(model), modelInfo: info,
                                  capabilities: ["completion", "tools"], modifiedAt: modified())
    }
}

/// The answer to a request with nothing to generate (Ollama's way of loading a model): done at once.
private struct LoadAnswer<Chunk: Encodable & Sendable>: Encodable, Sendable {
    let chunk: Chunk
    func encode(to encoder: Encoder) throws {
        try chunk.encode(to: encoder)
        var c = encoder.container(keyedBy: Key.self)
        try c.encode("load", forKey: .doneReason)
    }
    enum Key: String, CodingKey { case doneReason = "done_reason" }
}
