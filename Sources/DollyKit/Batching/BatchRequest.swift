#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One request to a `BatchEngine`: a tokenized prompt and how to continue it.
public struct BatchRequest: Sendable {
    public var prompt: [Int32]
    public var maxNewTokens: Int
    public var sampling: SamplingParameters
    public var stopTexts: [String]
    /// Strip the answer of surrounding whitespace as Dolly's pipeline does (instructions).
    public var strip: Bool
    /// With each generated token, its log-probability and this many most likely alternatives (0...5);
    /// nil: none.
    public var logprobs: Int?
    /// Also report each prompt token's log-probability given the tokens before it (the first has
    /// none): what log-likelihood clients ask with `echo`. Runs the whole prompt (no cached prefix).
    public var promptLogprobs: Bool
    /// The LoRA adapter this request runs with (nil: the base). Slots with different adapters share a
    /// step: the base product once, each row its own adapter's delta. The request holds the adapter, so
    /// one removed from a server meanwhile stays alive until the request ends.
    public var adapter: LoRAAdapter?

    public init(prompt: [Int32], maxNewTokens: Int, sampling: SamplingParameters = .dollyDefaults,
                stopTexts: [String] = [], strip: Bool = false, logprobs: Int? = nil, promptLogprobs: Bool = false,
                adapter: LoRAAdapter? = nil) {
        self.prompt = prompt
        self.maxNewTokens = maxNewTokens
        self.sampling = sampling
        self.stopTexts = stopTexts
        self.strip = strip
        self.logprobs = logprobs
        self.promptLogprobs = promptLogprobs
        self.adapter = adapter
    }
}

/// A token's log-probability under the model (before any sampling control) and the most likely
/// alternatives at its position, most likely first.
public struct TokenLogprob: Sendable, Equatable {
    public var token: Int32
    public var logprob: Double
    public var top: [(token: Int32, logprob: Double)]

    public init(token: Int32, logprob: Double, top: [(token: Int32, logprob: Double)] = []) {
        self.token = token
        self.logprob = logprob
        self.top = top
    }

    public static func == (a: TokenLogprob, b: TokenLogprob) -> Bool {
        a.token == b.token && a.logprob == b.logprob && a.top.map(\.token) == b.top.map(\.token)
            && a.top.map(\.logprob) == b.top.map(\.logprob)
    }
}

/// What a running request reports, in order: any number of `.text`, then one `.finished`.
public enum BatchEvent: Sendable {
    /// Text that is safe to show, and the tokens generated since the last event (with log-probabilities
    /// when asked). Text may be empty while a UTF-8 character or a possible stop text is held back.
    case text(String, tokens: [Int32], logprobs: [TokenLogprob])
    case finished(BatchSummary)
}

public struct BatchSummary: Sendable {
    public var stopReason: StopReason
    public var promptTokens: Int
    /// Prompt tokens whose keys and values were already cached by the slot (not recomputed).
    public var cachedPromptTokens: Int
    public var completionTokens: Int
    /// With `promptLogprobs`: one entry per prompt token after the first.
    public var promptLogprobs: [TokenLogprob]
    /// Where the request's time went, in nanoseconds: waiting for a slot, from the slot to the first
    /// token (the prompt's evaluation), and from the first token to the end.
    public var queueNanoseconds: UInt64 = 0
    public var promptNanoseconds: UInt64 = 0
    public var generationNanoseconds: UInt64 = 0
}

/// Why the engine refused or ended a request.
public enum BatchError: Error, LocalizedError, Equatable {
    /// Every slot is busy and the queue holds `limit` requests.
    case queueFull(limit: Int)
    /// The prompt and the answer's budget do not fit a slot's context.
    case contextExceeded(promptTokens: Int, maxNewTokens: Int, context: Int)
    case emptyPrompt
    /// A token id outside the vocabulary.
    case badToken(Int32)
    /// The engine is shutting down (or shut down).
    case shuttingDown

    public var errorDescription: String? {
        switch self {
        case let .queueFull(limit): return "the server is busy: \(limit) requests are already waiting"
        case let .contextExceeded(p, m, c):
            return "the prompt (\(p) tokens) plus max_tokens (\(m)) exceed the context of \(c) tokens"
        case .emptyPrompt: return "the prompt is empty"
        case let .badToken(id): return "token id \(id) is outside the vocabulary"
        case .shuttingDown: return "the server is shutting down"
        }
    }
}
