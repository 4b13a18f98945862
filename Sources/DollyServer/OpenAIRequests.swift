import Foundation

extension SingleValueDecodingContainer {
    /// The value as a string; nil when it is another type (or null). A string that does not decode is
    /// an error of its own, not "another type": JSON allows escapes of lone UTF-16 surrogates
    /// ("\ud800"), which are not Unicode, and saying "expected an array" about one would mislead.
    func decodeStringIfString() throws -> String? {
        do {
            return try decode(String.self)
        } catch DecodingError.typeMismatch, DecodingError.valueNotFound {
            return nil
        } catch let e as DecodingError {
            throw e
        } catch {
            // Foundation's own parser error (e.g. expectedLowSurrogateUTF8SequenceAfterHighSurrogate), which
            // its decoder would turn into "not valid JSON" with no path.
            let described = "\(error)"
            let reason = described.contains("Surrogate") || described.contains("UnicodeScalar")
                ? JSONBody.notUnicode : "the string cannot be decoded (\(described))"
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: reason))
        }
    }
}

/// `stop`: OpenAI takes one string or a list of up to 4.
struct StopField: Decodable, Sendable {
    let texts: [String]
    init(texts: [String]) { self.texts = texts }
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { texts = [] } else if let s = try c.decodeStringIfString() { texts = [s] } else {
            texts = try c.decode([String].self)
        }
    }
}

/// A message's `content`: a string, or a list of parts of which the text ones count.
struct MessageContent: Decodable, Sendable {
    let text: String
    private struct Part: Decodable {
        let type: String
        let text: String?
    }
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try c.decodeStringIfString() {
            text = s
            return
        }
        let parts = try c.decode([Part].self)
        guard parts.allSatisfy({ $0.type == "text" && $0.text != nil }) else {
            throw APIError.invalid("only text content parts are supported", param: "messages")
        }
        text = parts.compactMap(\.text).joined(separator: "\n")
    }
}

struct ChatMessage: Decodable, Sendable {
    let role: String
    let content: MessageContent?
    let name: String?
    /// An assistant turn's calls (the history of a tool conversation).
    let toolCalls: [ToolCallIn]?
    /// A `tool` message's answer to which call.
    let toolCallId: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case role, content, name, toolCalls = "tool_calls", toolCallId = "tool_call_id"
    }

    init(from decoder: Decoder) throws {
        try RequestFields.refuseUnknown(in: decoder, known: CodingKeys.allCases.map(\.rawValue), param: "messages")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        role = try c.decode(String.self, forKey: .role)
        content = try c.decodeIfPresent(MessageContent.self, forKey: .content)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        toolCalls = try c.decodeIfPresent([ToolCallIn].self, forKey: .toolCalls)
        toolCallId = try c.decodeIfPresent(String.self, forKey: .toolCallId)
    }
}

/// A call in an assistant message of the history.
struct ToolCallIn: Decodable, Sendable {
    let id: String?
    let type: String?
    let function: Function

    struct Function: Decodable, Sendable {
        let name: String
        let arguments: String
    }
}

/// The sampling fields both endpoints share: OpenAI's, plus transformers' controls as extensions.
/// Absent fields take Dolly's pipeline defaults (temperature 1, top_p 0.92, top_k 0).
struct SamplingFields: Decodable, Sendable {
    var maxTokens: Int?
    var maxCompletionTokens: Int?
    var temperature: Float?
    var topP: Float?
    var topK: Int?
    var minP: Float?
    var seed: UInt64?
    var stop: StopField?
    var frequencyPenalty: Float?
    var presencePenalty: Float?
    var repetitionPenalty: Float?
    var noRepeatNgramSize: Int?
    var n: Int?
    var logitBias: [String: Float]?
    var stream: Bool?
    var streamOptions: StreamOptions?

    struct StreamOptions: Decodable, Sendable {
        var includeUsage: Bool?
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case maxTokens = "max_tokens", maxCompletionTokens = "max_completion_tokens", temperature
        case topP = "top_p", topK = "top_k", minP = "min_p", seed, stop
        case frequencyPenalty = "frequency_penalty", presencePenalty = "presence_penalty"
        case repetitionPenalty = "repetition_penalty", noRepeatNgramSize = "no_repeat_ngram_size", n, stream
        case logitBias = "logit_bias"
        case streamOptions = "stream_options"
    }
}

struct ChatCompletionRequest: Decodable, Sendable {
    let model: String?
    let messages: [ChatMessage]
    let logprobs: Bool?
    let topLogprobs: Int?
    let sampling: SamplingFields
    let output: OutputFields
    let tools: [ToolField]?
    let toolChoice: ToolChoice?
    let parallelToolCalls: Bool?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, messages, logprobs, topLogprobs = "top_logprobs", tools, toolChoice = "tool_choice"
        case parallelToolCalls = "parallel_tool_calls"
        /// Accepted: they ask nothing of the answer (`user` labels the caller; `store` must be false).
        case user, store
    }

    init(from decoder: Decoder) throws {
        try RequestFields.refuseUnknown(in: decoder, known: CodingKeys.allCases.map(\.rawValue)
                                            + SamplingFields.CodingKeys.allCases.map(\.rawValue)
                                            + OutputFields.CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        messages = try c.decode([ChatMessage].self, forKey: .messages)
        logprobs = try c.decodeIfPresent(Bool.self, forKey: .logprobs)
        topLogprobs = try c.decodeIfPresent(Int.self, forKey: .topLogprobs)
        tools = try c.decodeIfPresent([ToolField].self, forKey: .tools)
        toolChoice = try c.decodeIfPresent(ToolChoice.self, forKey: .toolChoice)
        parallelToolCalls = try c.decodeIfPresent(Bool.self, forKey: .parallelToolCalls)
        _ = try c.decodeIfPresent(String.self, forKey: .user)
        if try c.decodeIfPresent(Bool.self, forKey: .store) == true {
            throw APIError.invalid("store: the server keeps no completions", param: "store")
        }
        sampling = try SamplingFields(from: decoder)
        output = try OutputFields(from: decoder)
    }
}

/// `/v1/completions`' prompt: a string, a list holding one string, or a list of token ids.
enum PromptField: Decodable, Sendable {
    case text(String)
    case tokens([Int32])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try c.decodeStringIfString() {
            self = .text(s)
        } else if let list = try? c.decode([String].self) {
            guard list.count == 1 else { throw APIError.invalid("one prompt per request (n = 1)", param: "prompt") }
            self = .text(list[0])
        } else if let ids = try? c.decode([Int32].self) {
            self = .tokens(ids)
        } else {
            throw APIError.invalid("prompt must be a string or a list of token ids", param: "prompt")
        }
    }
}

struct CompletionRequest: Decodable, Sendable {
    let model: String?
    let prompt: PromptField
    let echo: Bool?
    let logprobs: Int?
    let sampling: SamplingFields
    let output: OutputFields

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, prompt, echo, logprobs, user
        /// Accepted at their only supported values: best_of 1, suffix null or empty.
        case bestOf = "best_of", suffix
    }

    init(from decoder: Decoder) throws {
        try RequestFields.refuseUnknown(in: decoder, known: CodingKeys.allCases.map(\.rawValue)
                                            + SamplingFields.CodingKeys.allCases.map(\.rawValue)
                                            + OutputFields.CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        prompt = try c.decode(PromptField.self, forKey: .prompt)
        echo = try c.decodeIfPresent(Bool.self, forKey: .echo)
        logprobs = try c.decodeIfPresent(Int.self, forKey: .logprobs)
        _ = try c.decodeIfPresent(String.self, forKey: .user)
        if let n = try c.decodeIfPresent(Int.self, forKey: .bestOf), n != 1 {
            throw APIError.invalid("best_of must be 1", param: "best_of")
        }
        if let suffix = try c.decodeIfPresent(String.self, forKey: .suffix), !suffix.isEmpty {
            throw APIError.invalid("suffix is not supported (Dolly does not fill in the middle)", param: "suffix")
        }
        sampling = try SamplingFields(from: decoder)
        output = try OutputFields(from: decoder)
    }
}

struct TokenizeRequest: Decodable, Sendable {
    let content: String

    enum CodingKeys: String, CodingKey, CaseIterable { case content }

    init(from decoder: Decoder) throws {
        try RequestFields.refuseUnknown(in: decoder, known: CodingKeys.allCases.map(\.rawValue))
        content = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .content)
    }
}

struct DetokenizeRequest: Decodable, Sendable {
    let tokens: [Int32]

    enum CodingKeys: String, CodingKey, CaseIterable { case tokens }

    init(from decoder: Decoder) throws {
        try RequestFields.refuseUnknown(in: decoder, known: CodingKeys.allCases.map(\.rawValue))
        tokens = try decoder.container(keyedBy: CodingKeys.self).decode([Int32].self, forKey: .tokens)
    }
}
