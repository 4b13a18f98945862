/// How the next token is chosen. Defaults are databrickslabs/dolly's pipeline's (top_p 0.92,
/// top_k 0, temperature 1) with every other control off; each field has the semantics of the
/// transformers `GenerationConfig` field of the same name.
public struct SamplingParameters: Sendable, Equatable {
    /// Always take the most likely token (after the logits processors); ignores the warpers below.
    public var greedy: Bool
    /// Divides the logits before top-k, top-p and min-p; 0 means greedy.
    public var temperature: Float
    /// Nucleus sampling: keep the most likely tokens whose probabilities add up to `topP`.
    public var topP: Float
    /// Keep only the `topK` most likely tokens; 0 disables.
    public var topK: Int
    /// Keep only tokens at least `minP` times as likely as the most likely one (after top-p); 0 disables.
    public var minP: Float
    /// transformers' `repetition_penalty`: the logit of every id already in the prompt or the output
    /// is divided by it when positive and multiplied by it when negative; 1 disables.
    public var repetitionPenalty: Float
    /// transformers' `no_repeat_ngram_size`: no n-gram of this size occurs twice in prompt plus
    /// output; 0 disables.
    public var noRepeatNgramSize: Int
    /// OpenAI's `frequency_penalty`: the logit of an id drops by this times its count in the output
    /// (generated tokens only; the prompt does not count); 0 disables.
    public var frequencyPenalty: Float
    /// OpenAI's `presence_penalty`: the logit of an id already in the output drops by this; 0 disables.
    public var presencePenalty: Float
    /// Seed of the sampler; nil picks one at random.
    public var seed: UInt64?
    /// Only tokens that keep the output inside this grammar (applied first, at every step including
    /// the first); a stop token only where the grammar is complete. Held by reference: one compiled
    /// grammar serves every generation that uses it, and equality compares identity.
    public var constraint: GrammarConstraint?
    /// OpenAI's `logit_bias`: added to the logit of each listed id (after the grammar's mask, before
    /// the penalties and warpers); -100 all but bans an id, 100 all but forces it.
    public var logitBias: [Int32: Float] = [:]

    public init(greedy: Bool = false, temperature: Float = 1.0, topP: Float = 0.92, topK: Int = 0, minP: Float = 0,
                repetitionPenalty: Float = 1, noRepeatNgramSize: Int = 0, frequencyPenalty: Float = 0,
                presencePenalty: Float = 0, seed: UInt64? = nil, constraint: GrammarConstraint? = nil) {
        self.greedy = greedy
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.noRepeatNgramSize = noRepeatNgramSize
        self.frequencyPenalty = frequencyPenalty
        self.presencePenalty = presencePenalty
        self.seed = seed
        self.constraint = constraint
    }

    public static func == (a: SamplingParameters, b: SamplingParameters) -> Bool {
        a.greedy == b.greedy && a.temperature == b.temperature && a.topP == b.topP && a.topK == b.topK
            && a.minP == b.minP && a.repetitionPenalty == b.repetitionPenalty
            && a.noRepeatNgramSize == b.noRepeatNgramSize && a.frequencyPenalty == b.frequencyPenalty
            && a.presencePenalty == b.presencePenalty && a.seed == b.seed && a.constraint === b.constraint
            && a.logitBias == b.logitBias
    }

    public static let dollyDefaults = SamplingParameters()
    public static let greedyDecoding = SamplingParameters(greedy: true)

    /// Whether decoding takes the arg-max instead of drawing.
    public var isGreedy: Bool { greedy || temperature <= 0 || topK == 1 }

    /// Whether any logits processor (as opposed to a sampling warper) is on.
    var hasProcessors: Bool {
        repetitionPenalty != 1 || noRepeatNgramSize > 0 || frequencyPenalty != 0 || presencePenalty != 0
    }

    /// A field that can be out of range (its name is transformers' for the same control).
    public enum Field: String, Sendable {
        case temperature, topP = "top_p", topK = "top_k", minP = "min_p", repetitionPenalty = "repetition_penalty"
        case noRepeatNgramSize = "no_repeat_ngram_size", frequencyPenalty = "frequency_penalty"
        case presencePenalty = "presence_penalty", logitBias = "logit_bias"
    }

    /// The first field out of range and the range it must be in; nil when all are usable.
    public var outOfRange: (field: Field, requirement: String)? {
        if !temperature.isFinite || temperature < 0 { return (.temperature, "must be >= 0") }
        if !topP.isFinite || topP <= 0 || topP > 1 { return (.topP, "must be in (0, 1]") }
        if topK < 0 { return (.topK, "must be >= 0") }
        if !minP.isFinite || minP < 0 || minP > 1 { return (.minP, "must be in [0, 1]") }
        if !repetitionPenalty.isFinite || repetitionPenalty <= 0 { return (.repetitionPenalty, "must be > 0") }
        if noRepeatNgramSize < 0 { return (.noRepeatNgramSize, "must be >= 0") }
        if !frequencyPenalty.isFinite || abs(frequencyPenalty) > 2 { return (.frequencyPenalty, "must be in [-2, 2]") }
        if !presencePenalty.isFinite || abs(presencePenalty) > 2 { return (.presencePenalty, "must be in [-2, 2]") }
        if logitBias.contains(where: { $0.key < 0 || !$0.value.isFinite || abs($0.value) > 100 }) {
            return (.logitBias, "ids must be >= 0 and biases in [-100, 100]")
        }
        return nil
    }
}
