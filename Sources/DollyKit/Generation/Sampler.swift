import Foundation

/// How the next token is chosen; Dolly's defaults are those of databrickslabs/dolly's pipeline.
public struct SamplingParameters: Sendable, Equatable {
    /// Always take the most likely token (ignores the fields below).
    public var greedy: Bool
    public var temperature: Float
    /// Nucleus sampling: keep the most likely tokens whose probabilities add up to `topP`.
    public var topP: Float
    /// Keep only the `topK` most likely tokens; 0 disables.
    public var topK: Int
    /// Seed of the sampler; nil picks one at random.
    public var seed: UInt64?

    public init(greedy: Bool = false, temperature: Float = 1.0, topP: Float = 0.92, topK: Int = 0, seed: UInt64? = nil) {
        self.greedy = greedy
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.seed = seed
    }

    public static let dollyDefaults = SamplingParameters()
    public static let greedyDecoding = SamplingParameters(greedy: true)
}

/// Picks tokens from logits the way transformers' logits warpers do: temperature, then top-k,
/// then top-p, then a draw from the softmax. Scratch space is reused across calls.
public struct Sampler {
    public let parameters: SamplingParameters
    private var rng: SeededGenerator
    private var candidates: [(logit: Float, id: Int32)] = []
    private var probs: [Double] = []

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        rng = SeededGenerator(seed: parameters.seed ?? UInt64.random(in: .min ... .max))
    }

    /// The index of the largest logit; the first one on ties, like torch.argmax.
    public static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        var best = 0
        var bestValue = -Float.infinity
        for i in 0..<logits.count where logits[i] > bestValue {
            bestValue = logits[i]
            best = i
        }
        return Int32(best)
    }

    public mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        let p = parameters
        if p.greedy || p.temperature <= 0 || p.topK == 1 { return Self.argmax(logits) }
        let maxLogit = logits.max() ?? 0
        // Tokens more than 40 nats below the best have probability < 4e-18 each: dropping them
        // changes no cumulative sum that top-p compares, and saves sorting the whole vocabulary.
        let floor = maxLogit - 40 * p.temperature
        candidates.removeAll(keepingCapacity: true)
        for i in 0..<logits.count where logits[i] >= floor {
            candidates.append((logits[i] / p.temperature, Int32(i)))
        }
        // Non-finite logits (e.g. a checkpoint with NaN weights) leave nothing to sample from.
        guard !candidates.isEmpty, maxLogit.isFinite else { return Self.argmax(logits) }
        candidates.sort { $0.logit > $1.logit || ($0.logit == $1.logit && $0.id < $1.id) }
        if p.topK > 0 && p.topK < candidates.count {
            // transformers keeps every token tied with the k-th.
            let kth = candidates[p.topK - 1].logit
            var keep = p.topK
            while keep < candidates.count && candidates[keep].logit >= kth { keep += 1 }
            candidates.removeLast(candidates.count - keep)
        }
        let top = candidates[0].logit
        probs.removeAll(keepingCapacity: true)
        for c in candidates { probs.append(Double(exp(c.logit - top))) }
        var total = probs.reduce(0, +)
        if p.topP < 1 {
            // Keep the smallest prefix whose mass reaches topP (at least one token).
            var cumulative = 0.0
            var keep = probs.count
            for i in 0..<probs.count {
                cumulative += probs[i] / total
                if cumulative >= Double(p.topP) { keep = i + 1; break }
            }
            probs.removeLast(probs.count - keep)
            total = probs.reduce(0, +)
        }
        var r = rng.nextUnit() * total
        for i in 0..<probs.count {
            r -= probs[i]
            if r < 0 { return candidates[i].id }
        }
        return candidates[probs.count - 1].id
    }
}
