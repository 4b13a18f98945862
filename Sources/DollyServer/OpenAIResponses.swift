import DollyKit
import Foundation

/// A field OpenAI's shapes spell out as `null` when there is nothing (Swift's synthesized coding would
/// leave the key out).
struct Nullable<T: Encodable & Sendable>: Encodable, Sendable {
    let value: T?
    init(_ value: T?) { self.value = value }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if let value { try c.encode(value) } else { try c.encodeNil() }
    }
}

struct Usage: Encodable, Sendable {
    let promptTokens: Int
    let completionTokens: Int
    /// Prompt tokens a slot had cached (OpenAI's `prompt_tokens_details.cached_tokens`).
    let cachedTokens: Int
    var totalTokens: Int { promptTokens + completionTokens }

    init(_ s: BatchSummary) {
        promptTokens = s.promptTokens
        completionTokens = s.completionTokens
        cachedTokens = s.cachedPromptTokens
    }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens"
        case promptTokensDetails = "prompt_tokens_details"
    }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(promptTokens, forKey: .promptTokens)
        try c.encode(completionTokens, forKey: .completionTokens)
        try c.encode(totalTokens, forKey: .totalTokens)
        try c.encode(["cached_tokens": cachedTokens], forKey: .promptTokensDetails)
    }
}

/// Chat's logprobs: one entry per generated token.
struct ChatLogprobs: Encodable, Sendable {
    struct Entry: Encodable, Sendable {
        let token: String
        let logprob: Double
        let bytes: [UInt8]
        let topLogprobs: [Top]
        enum CodingKeys: String, CodingKey { case token, logprob, bytes, topLogprobs = "top_logprobs" }
    }
    struct Top: Encodable, Sendable {
        let token: String
        let logprob: Double
        let bytes: [UInt8]
    }
    let content: [Entry]
}

struct ChatMessageOut: Encodable, Sendable {
    let role = "assistant"
    /// null when the answer is a tool call, as OpenAI sends it.
    let content: Nullable<String>
    let toolCalls: [ToolCallOut]?
    enum CodingKeys: String, CodingKey { case role, content, toolCalls = "tool_calls" }

    init(content: String?, toolCalls: [ToolCallOut]? = nil) {
        self.content = Nullable(content)
        self.toolCalls = toolCalls
    }
}

/// A call in an answer: `arguments` is the JSON text the model wrote.
struct ToolCallOut: Encodable, Sendable {
    let id: String
    let type = "function"
    let function: Function
    struct Function: Encodable, Sendable {
        let name: String
        let arguments: String
    }
}

/// A streamed piece of a call: the first carries id, type and name, the rest argument fragments.
struct ToolCallDelta: Encodable, Sendable {
    let index = 0
    var id: String?
    var type: String?
    let function: Function
    struct Function: Encodable, Sendable {
        var name: String?
        var arguments: String
    }
}

struct ChatChoice: Encodable, Sendable {
    let index = 0
    let message: ChatMessageOut
    let logprobs: Nullable<ChatLogprobs>  // null when not asked, as OpenAI sends it
    let finishReason: String
    enum CodingKeys: String, CodingKey { case index, message, logprobs, finishReason = "finish_reason" }

    init(message: ChatMessageOut, logprobs: ChatLogprobs?, finishReason: String) {
        self.message = message
        self.logprobs = Nullable(logprobs)
        self.finishReason = finishReason
    }
}

struct ChatCompletion: Encodable, Sendable {
    let id: String
    let object = "chat.completion"
    let created: Int
    let model: String
    let choices: [ChatChoice]
    let usage: Usage
}

struct ChatDelta: Encodable, Sendable {
    var role: String?
    var content: String?
    var toolCalls: [ToolCallDelta]?
    enum CodingKeys: String, CodingKey { case role, content, toolCalls = "tool_calls" }
}

struct ChatChunkChoice: Encodable, Sendable {
    let index = 0
    let delta: ChatDelta
    let logprobs: Nullable<ChatLogprobs>
    let finishReason: Nullable<String>
    enum CodingKeys: String, CodingKey { case index, delta, logprobs, finishReason = "finish_reason" }

    init(delta: ChatDelta, logprobs: ChatLogprobs? = nil, finishReason: String? = nil) {
        self.delta = delta
        self.logprobs = Nullable(logprobs)
        self.finishReason = Nullable(finishReason)
    }
}

struct ChatCompletionChunk: Encodable, Sendable {
    let id: String
    let object = "chat.completion.chunk"
    let created: Int
    let model: String
    let choices: [ChatChunkChoice]
    var usage: Usage?
}

/// The legacy completions logprobs object.
struct CompletionLogprobs: Encodable, Sendable {
    var tokens: [String] = []
    var tokenLogprobs: [Double?] = []
    var topLogprobs: [[String: Double]?] = []
    var textOffset: [Int] = []
    // (nil elements of an array encode as null)
    enum CodingKeys: String, CodingKey {
        case tokens, tokenLogprobs = "token_logprobs", topLogprobs = "top_logprobs", textOffset = "text_offset"
    }
}

struct CompletionChoice: Encodable, Sendable {
    let text: String
    let index = 0
    let logprobs: Nullable<CompletionLogprobs>
    let finishReason: Nullable<String>
    enum CodingKeys: String, CodingKey { case text, index, logprobs, finishReason = "finish_reason" }

    init(text: String, logprobs: CompletionLogprobs? = nil, finishReason: String? = nil) {
        self.text = text
        self.logprobs = Nullable(logprobs)
        self.finishReason = Nullable(finishReason)
    }
}

struct Completion: Encodable, Sendable {
    let id: String
    let object = "text_completion"
    let created: Int
    let model: String
    let choices: [CompletionChoice]
    var usage: Usage?
}

struct ModelList: Encodable, Sendable {
    struct Entry: Encodable, Sendable {
        let id: String
        let object = "model"
        let created: Int
        let ownedBy = "dolly"
        enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by" }
    }
    let object = "list"
    let data: [Entry]
}

struct TokenizeResponse: Encodable, Sendable {
    let tokens: [Int32]
}

struct DetokenizeResponse: Encodable, Sendable {
    let content: String
}
