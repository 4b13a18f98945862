import DollyKit
import Foundation

/// Ollama's response bodies. Durations are nanoseconds, times RFC 3339, as Ollama writes them.

/// The fields every generate or chat object carries; the timing ones only on the last (`done: true`).
struct OllamaDone: Encodable, Sendable {
    let doneReason: String
    let totalDuration: UInt64
    let loadDuration: UInt64
    let promptEvalCount: Int
    let promptEvalDuration: UInt64
    let evalCount: Int
    let evalDuration: UInt64

    enum CodingKeys: String, CodingKey {
        case doneReason = "done_reason", totalDuration = "total_duration", loadDuration = "load_duration"
        case promptEvalCount = "prompt_eval_count", promptEvalDuration = "prompt_eval_duration"
        case evalCount = "eval_count", evalDuration = "eval_duration"
    }

    /// The model is loaded before the server answers, so no request waits for a load: load_duration is
    /// 0. prompt_eval_count counts the prompt tokens evaluated, as Ollama's does: a slot's cached
    /// prefix is not evaluated again.
    init(_ s: BatchSummary, started: UInt64) {
        doneReason = OllamaRoutes.doneReason(s.stopReason)
        totalDuration = OllamaClock.now() - started
        loadDuration = 0
        promptEvalCount = s.promptTokens - s.cachedPromptTokens
        promptEvalDuration = s.promptNanoseconds
        evalCount = s.completionTokens
        evalDuration = s.generationNanoseconds
    }
}

struct OllamaLogprob: Encodable, Sendable {
    let token: String
    let logprob: Double
    let topLogprobs: [Alternative]?
    struct Alternative: Encodable, Sendable {
        let token: String
        let logprob: Double
    }
    enum CodingKeys: String, CodingKey { case token, logprob, topLogprobs = "top_logprobs" }
}

struct OllamaGenerateChunk: Encodable, Sendable {
    let model: String
    let createdAt: String
    let response: String
    var done: Bool
    var logprobs: [OllamaLogprob]?
    /// On the last object: the conversation's tokens (prompt and answer), to send back as `context`.
    var context: [Int32]?
    var summary: OllamaDone?

    enum CodingKeys: String, CodingKey {
        case model, createdAt = "created_at", response, done, logprobs, context
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(response, forKey: .response)
        try c.encode(done, forKey: .done)
        try c.encodeIfPresent(logprobs, forKey: .logprobs)
        try c.encodeIfPresent(context, forKey: .context)
        try summary?.encode(to: encoder)  // flattened into the same object
    }
}

struct OllamaMessageOut: Encodable, Sendable {
    let role = "assistant"
    let content: String
    var toolCalls: [Call]?

    struct Call: Encodable, Sendable {
        let function: Function
        struct Function: Encodable, Sendable {
            let name: String
            let arguments: JSONNode
        }
    }
    enum CodingKeys: String, CodingKey { case role, content, toolCalls = "tool_calls" }
}

struct OllamaChatChunk: Encodable, Sendable {
    let model: String
    let createdAt: String
    let message: OllamaMessageOut
    let done: Bool
    var logprobs: [OllamaLogprob]?
    var summary: OllamaDone?

    enum CodingKeys: String, CodingKey { case model, createdAt = "created_at", message, done, logprobs }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(message, forKey: .message)
        try c.encode(done, forKey: .done)
        try c.encodeIfPresent(logprobs, forKey: .logprobs)
        try summary?.encode(to: encoder)
    }
}

/// `details` of /api/tags, /api/show and /api/ps.
struct OllamaModelDetails: Encodable, Sendable {
    let parentModel = ""
    let format: String
    let family = "gptneox"
    let families = ["gptneox"]
    let parameterSize: String
    let quantizationLevel: String

    enum CodingKeys: String, CodingKey {
        case parentModel = "parent_model", format, family, families, parameterSize = "parameter_size"
        case quantizationLevel = "quantization_level"
    }
}

struct OllamaModelEntry: Encodable, Sendable {
    var name: String
    var model: String
    let modifiedAt: String
    let size: Int
    let digest: String
    let details: OllamaModelDetails
    /// /api/ps only.
    var expiresAt: String?
    var sizeVram: Int?
    var contextLength: Int?

    enum CodingKeys: String, CodingKey {
        case name, model, modifiedAt = "modified_at", size, digest, details, expiresAt = "expires_at"
        case sizeVram = "size_vram", contextLength = "context_length"
    }
}

struct OllamaModelList: Encodable, Sendable {
    let models: [OllamaModelEntry]
}

struct OllamaShowResponse: Encodable, Sendable {
    let license: String
    let modelfile: String
    let parameters: String
    let template: String
    let details: OllamaModelDetails
    let modelInfo: [String: JSONNode]
    let capabilities: [String]
    let modifiedAt: String

    enum CodingKeys: String, CodingKey {
        case license, modelfile, parameters, template, details, modelInfo = "model_info", capabilities
        case modifiedAt = "modified_at"
    }
}

/// Monotonic nanoseconds (durations) and RFC 3339 wall-clock times (created_at).
enum OllamaClock {
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// One formatter for every event (making one costs more than the event); not thread-safe, so locked.
    private nonisolated(unsafe) static let formatter: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
    private static let lock = NSLock()

    static func timestamp(_ date: Date = Date()) -> String { lock.withLock { formatter.string(from: date) } }
}
