import DollyKit
import Foundation

/// Ollama's request bodies (`/api/generate`, `/api/chat`, `/api/show`), read as strictly as OpenAI's:
/// a field we would not honour is a 400 naming it, never dropped.

/// `options`: the sampling controls Ollama takes, and its load-time settings, which belong to the
/// server here (they ask nothing of the answer, so they are accepted and left to `dolly serve`'s flags).
struct OllamaOptions: Decodable, Sendable {
    var temperature: Float?
    var topP: Float?
    var topK: Int?
    var minP: Float?
    var numPredict: Int?
    var stop: [String]?
    var seed: Int64?
    var repeatPenalty: Float?
    var presencePenalty: Float?
    var frequencyPenalty: Float?
    var numCtx: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case temperature, topP = "top_p", topK = "top_k", minP = "min_p", numPredict = "num_predict", stop, seed
        case repeatPenalty = "repeat_penalty", presencePenalty = "presence_penalty", frequencyPenalty = "frequency_penalty"
        case numCtx = "num_ctx"
        /// Checked below: accepted only with values that change nothing here.
        case repeatLastN = "repeat_last_n", typicalP = "typical_p", tfsZ = "tfs_z", mirostat
        case mirostatTau = "mirostat_tau", mirostatEta = "mirostat_eta", penalizeNewline = "penalize_newline"
    }

    /// How the model is loaded and run: `dolly serve`'s options decide them for every request.
    static let serverSettings = ["numa", "num_batch", "num_gpu", "main_gpu", "low_vram", "f16_kv", "logits_all",
                                 "vocab_only", "use_mmap", "use_mlock", "embedding_only", "num_thread", "num_keep"]

    init(from decoder: Decoder) throws {
        try RequestFields.refuseUnknown(in: decoder, known: CodingKeys.allCases.map(\.rawValue) + Self.serverSettings,
                                        param: "options")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        temperature = try c.decodeIfPresent(Float.self, forKey: .temperature)
        topP = try c.decodeIfPresent(Float.self, forKey: .topP)
        topK = try c.decodeIfPresent(Int.self, forKey: .topK)
        minP = try c.decodeIfPresent(Float.self, forKey: .minP)
        numPredict = try c.decodeIfPresent(Int.self, forKey: .numPredict)
        stop = try c.decodeIfPresent([String].self, forKey: .stop)
        seed = try c.decodeIfPresent(Int64.self, forKey: .seed)
        repeatPenalty = try c.decodeIfPresent(Float.self, forKey: .repeatPenalty)
        presencePenalty = try c.decodeIfPresent(Float.self, forKey: .presencePenalty)
        frequencyPenalty = try c.decodeIfPresent(Float.self, forKey: .frequencyPenalty)
        numCtx = try c.decodeIfPresent(Int.self, forKey: .numCtx)
        // transformers' repetition penalty covers every earlier token: Ollama's repeat_last_n -1.
        if let n = try c.decodeIfPresent(Int.self, forKey: .repeatLastN), n != -1, n != 0, (repeatPenalty ?? 1) != 1 {
            throw APIError.invalid("options.repeat_last_n: only -1 (every earlier token, as transformers) is supported "
                                   + "with repeat_penalty", param: "options")
        }
        if let v = try c.decodeIfPresent(Float.self, forKey: .typicalP), v != 1 {
            throw APIError.invalid("options.typical_p: typical sampling is not supported (use 1)", param: "options")
        }
        if let v = try c.decodeIfPresent(Float.self, forKey: .tfsZ), v != 1 {
            throw APIError.invalid("options.tfs_z: tail-free sampling is not supported (use 1)", param: "options")
        }
        if let v = try c.decodeIfPresent(Int.self, forKey: .mirostat), v != 0 {
            throw APIError.invalid("options.mirostat: Mirostat sampling is not supported (use 0)", param: "options")
        }
        _ = try c.decodeIfPresent(Float.self, forKey: .mirostatTau)  // only read by Mirostat, which is off
        _ = try c.decodeIfPresent(Float.self, forKey: .mirostatEta)
        if let v = try c.decodeIfPresent(Bool.self, forKey: .penalizeNewline), !v, (repeatPenalty ?? 1) != 1 {
            throw APIError.invalid("options.penalize_newline: false is not supported (the penalty covers every token)",
                                   param: "options")
        }
    }

    /// The same controls as OpenAI's fields, so both APIs are checked and mapped by one function.
    func sampling(stream: Bool) throws -> SamplingFields {
        var f = SamplingFields()
        f.temperature = temperature
        f.topP = topP
        f.topK = topK
        f.minP = minP
        f.repetitionPenalty = repeatPenalty
        f.presencePenalty = presencePenalty
        f.frequencyPenalty = frequencyPenalty
        if let seed { f.seed = UInt64(bitPattern: seed) }
        if let stop { f.stop = StopField(texts: stop) }
        f.stream = stream
        return f
    }
}

/// `format`: "json" (any JSON object), "" (free text) or a JSON Schema.
struct OllamaFormat: Decodable, Sendable {
    let output: OutputFields

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        var fields = OutputFields()
        if let s = try c.decodeStringIfString() {
            switch s {
            case "": break
            case "json": fields.grammar = JSONSchemaGrammar.anyObjectGBNF
            default: throw APIError.invalid("format: \"\(s)\" is neither \"json\" nor a JSON Schema object", param: "format")
            }
        } else {
            let schema = try c.decode(JSONNode.self)
            guard schema.isObject else { throw APIError.invalid("format: a JSON Schema must be an object", param: "format") }
            fields.jsonSchema = schema
        }
        output = fields
    }

    /// The request field the grammar came from, for its errors.
    var param: String { "format" }
}

/// The fields /api/generate and /api/chat share.
struct OllamaCommon: Sendable {
    var model: String
    var stream: Bool
    var options: OllamaOptions?
    var format: OllamaFormat?
    var logprobs: Int?

    enum Keys: String, CodingKey, CaseIterable {
        case model, stream, options, format, keepAlive = "keep_alive", think, logprobs, topLogprobs = "top_logprobs"
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        model = try c.decode(String.self, forKey: .model)
        stream = try c.decodeIfPresent(Bool.self, forKey: .stream) ?? true  // Ollama streams unless told not to
        options = try c.decodeIfPresent(OllamaOptions.self, forKey: .options)
        format = try c.decodeIfPresent(OllamaFormat.self, forKey: .format)
        // keep_alive: the model stays loaded while the server runs, whatever the value (it is read, so a
        // wrong type is still a 400).
        if c.contains(.keepAlive), (try? c.decode(Double.self, forKey: .keepAlive)) == nil {
            _ = try c.decodeIfPresent(String.self, forKey: .keepAlive)
        }
        if c.contains(.think) {
            let asked = (try? c.decode(Bool.self, forKey: .think)) ?? true  // "low"/"medium"/"high" ask for thinking too
            if asked { throw APIError.invalid("think: Dolly does not think before answering (use false)", param: "think") }
        }
        if try c.decodeIfPresent(Bool.self, forKey: .logprobs) == true {
            let top = try c.decodeIfPresent(Int.self, forKey: .topLogprobs) ?? 0
            guard (0...5).contains(top) else { throw APIError.invalid("top_logprobs must be in 0...5", param: "top_logprobs") }
            logprobs = top
        } else if c.contains(.topLogprobs) {
            _ = try c.decodeIfPresent(Int.self, forKey: .topLogprobs)
        }
    }
}

struct OllamaGenerateRequest: Decodable, Sendable {
    var common: OllamaCommon
    var prompt: String?
    var system: String?
    var raw: Bool
    /// A previous answer's `context`: the conversation's tokens so far.
    var context: [Int32]?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case prompt, suffix, system, template, context, raw, images
    }

    init(from decoder: Decoder) throws {
        try RequestFields.refuseUnknown(in: decoder, known: CodingKeys.allCases.map(\.rawValue)
                                            + OllamaCommon.Keys.allCases.map(\.rawValue))
        common = try OllamaCommon(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        prompt = try c.decodeIfPresent(String.self, forKey: .prompt)
        system = try c.decodeIfPresent(String.self, forKey: .system)
        raw = try c.decodeIfPresent(Bool.self, forKey: .raw) ?? false
        context = try c.decodeIfPresent([Int32].self, forKey: .context)
        if let s = try c.decodeIfPresent(String.self, forKey: .suffix), !s.isEmpty {
            throw APIError.invalid("suffix: Dolly does not fill in the middle", param: "suffix")
        }
        if let t = try c.decodeIfPresent(String.self, forKey: .template), !t.isEmpty {
            throw APIError.invalid("template: Dolly's prompt format is fixed (use raw: true for a prompt of your own)",
                                   param: "template")
        }
        if let images = try c.decodeIfPresent([String].self, forKey: .images), !images.isEmpty {
            throw APIError.invalid("images: Dolly reads text only", param: "images")
        }
        if raw, system != nil { throw APIError.invalid("system: a raw prompt takes no system text", param: "system") }
    }
}

struct OllamaChatRequest: Decodable, Sendable {
    var common: OllamaCommon
    var messages: [OllamaMessage]
    var tools: [ToolField]?

    enum CodingKeys: String, CodingKey, CaseIterable { case messages, tools }

    init(from decoder: Decoder) throws {
        try RequestFields.refuseUnknown(in: decoder, known: CodingKeys.allCases.map(\.rawValue)
                                            + OllamaCommon.Keys.allCases.map(\.rawValue))
        common = try OllamaCommon(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        messages = try c.decodeIfPresent([OllamaMessage].self, forKey: .messages) ?? []
        tools = try c.decodeIfPresent([ToolField].self, forKey: .tools)
    }
}

/// A message: role, content, and an assistant's `tool_calls` (arguments as an object) or a tool's
/// `tool_name`.
struct OllamaMessage: Decodable, Sendable {
    let turn: ChatTurn

    enum CodingKeys: String, CodingKey, CaseIterable { case role, content, images, thinking, toolCalls = "tool_calls", toolName = "tool_name" }

    private struct Call: Decodable {
        struct Function: Decodable {
            let name: String
            let arguments: JSONNode?
        }
        let function: Function
    }

    init(from decoder: Decoder) throws {
        try RequestFields.refuseUnknown(in: decoder, known: CodingKeys.allCases.map(\.rawValue), param: "messages")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var turn = ChatTurn(role: try c.decode(String.self, forKey: .role),
                            text: try c.decodeIfPresent(String.self, forKey: .content) ?? "")
        if let images = try c.decodeIfPresent([String].self, forKey: .images), !images.isEmpty {
            throw APIError.invalid("messages: images: Dolly reads text only", param: "messages")
        }
        if let t = try c.decodeIfPresent(String.self, forKey: .thinking), !t.isEmpty {
            throw APIError.invalid("messages: thinking: Dolly does not think; leave it out of the history", param: "messages")
        }
        turn.calls = try (c.decodeIfPresent([Call].self, forKey: .toolCalls) ?? []).map {
            (nil, $0.function.name, $0.function.arguments?.json ?? "{}")
        }
        turn.toolName = try c.decodeIfPresent(String.self, forKey: .toolName)
        self.turn = turn
    }
}

/// `/api/show`: `model` (older clients: `name`).
struct OllamaShowRequest: Decodable, Sendable {
    let model: String

    enum CodingKeys: String, CodingKey, CaseIterable { case model, name, verbose }

    init(from decoder: Decoder) throws {
        try RequestFields.refuseUnknown(in: decoder, known: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard let m = try c.decodeIfPresent(String.self, forKey: .model) ?? c.decodeIfPresent(String.self, forKey: .name) else {
            throw APIError.invalid("model is required", param: "model")
        }
        _ = try c.decodeIfPresent(Bool.self, forKey: .verbose)
        model = m
    }
}
