import Foundation

struct Usage: Encodable, Sendable {
    let promptTokens: Int
    let completionTokens: Int
    var totalTokens: Int { promptTokens + completionTokens }

    enum CodingKeys: String, CodingKey { case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens" }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(promptTokens, forKey: .promptTokens)
        try c.encode(completionTokens, forKey: .completionTokens)
        try c.encode(totalTokens, forKey: .totalTokens)
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
    let content: String
}

struct ChatChoice: Encodable, Sendable {
    let index = 0
    let message: ChatMessageOut
    let logprobs: ChatLogprobs?
    let finishReason: String
    enum CodingKeys: String, CodingKey { case index, message, logprobs, finishReason = "finish_reason" }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(message, forKey: .message)
        try c.encode(logprobs, forKey: .logprobs)  // null when not asked, as OpenAI sends it
        try c.encode(finishReason, forKey: .finishReason)
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
}

struct ChatChunkChoice: Encodable, Sendable {
    let index = 0
    let delta: ChatDelta
    let logprobs: ChatLogprobs?
    let finishReason: String?
    enum CodingKeys: String, CodingKey { case index, delta, logprobs, finishReason = "finish_reason" }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(delta, forKey: .delta)
        try c.encode(logprobs, forKey: .logprobs)
        try c.encode(finishReason, forKey: .finishReason)
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
    enum CodingKeys: String, CodingKey {
        case tokens, tokenLogprobs = "token_logprobs", topLogprobs = "top_logprobs", textOffset = "text_offset"
    }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tokens, forKey: .tokens)
        var lp = c.nestedUnkeyedContainer(forKey: .tokenLogprobs)
        for v in tokenLogprobs { if let v { try lp.encode(v) } else { try lp.encodeNil() } }
        var top = c.nestedUnkeyedContainer(forKey: .topLogprobs)
        for v in topLogprobs { if let v { try top.encode(v) } else { try top.encodeNil() } }
        try c.encode(textOffset, forKey: .textOffset)
    }
}

struct CompletionChoice: Encodable, Sendable {
    let text: String
    let index = 0
    let logprobs: CompletionLogprobs?
    let finishReason: String?
    enum CodingKeys: String, CodingKey { case text, index, logprobs, finishReason = "finish_reason" }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(text, forKey: .text)
        try c.encode(index, forKey: .index)
        try c.encode(logprobs, forKey: .logprobs)
        try c.encode(finishReason, forKey: .finishReason)
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
