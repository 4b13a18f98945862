#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Picks tokens from logits in transformers' order (`generation/utils.py` `_get_logits_processor`):
/// the grammar mask (when the caller passes one), then the logits processors (repetition penalty, then no-repeat n-gram, then OpenAI's frequency and
/// presence penalties, which transformers lacks), then, when sampling, the
/// warpers temperature → top-k → top-p → min-p, then a draw from the softmax. Scratch space is
/// reused across calls: no allocation per token.
public struct Sampler {
    public let parameters: SamplingParameters
    private var rng: SeededGenerator
    /// The seed `rng` started from (drawn at random when the parameters give none).
    let seed: UInt64
    private var processed: [Float] = []
    private var candidates: [(logit: Float, id: Int32)] = []
    private var sorter = CandidateSorter()
    private var probs: [Double] = []
    private var banned: [Int32] = []
    /// Speculative sampling's scratch: the target's distribution, and the proposal's probabilities by id
    /// (zero except while a check runs).
    private var target = TokenDistribution()
    private var proposalById: [Double] = []

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        seed = parameters.seed ?? UInt64.random(in: .min ... .max)
        rng = SeededGenerator(seed: seed)
    }

    /// The same sampler drawing from another random stream (a draft's proposals must not reuse the
    /// draws that later check them).
    func reseeded(_ newSeed: UInt64) -> Sampler {
        var copy = self
        copy.rng = SeededGenerator(seed: newSeed)
        return copy
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

    /// The next token after `history` (prompt and output so far, which the processors look at).
    /// `observe` sees the scores the choice is made from (the logits after the processors).
    /// `allowed`: a bitset over the ids (bit id % 64 of word id / 64); the others get -inf.
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>, history: TokenHistory,
                                allowed: UnsafeBufferPointer<UInt64>? = nil,
                                observe: ((UnsafeBufferPointer<Float>) -> Void)? = nil) -> Int32 {
        guard applyProcessors(logits, history: history, allowed: allowed) else {
            observe?(logits)
            return choose(logits)
        }
        let scores = processed  // shares the buffer; nothing writes `processed` until the next call
        return scores.withUnsafeBufferPointer {
            observe?($0)
            return choose($0)
        }
    }

    /// Without history: only the warpers apply (for callers that track no tokens).
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        sample(logits, history: TokenHistory())
    }

    /// The tokens a draw could pick and their warped logits (temperature-scaled, the rest removed),
    /// most likely first: the finite entries of transformers' processed scores when sampling.
    public mutating func candidateLogits(_ logits: UnsafeBufferPointer<Float>, history: TokenHistory) -> [(id: Int32, logit: Float)] {
        let ok: Bool
        if applyProcessors(logits, history: history) {
            let scores = processed
            ok = scores.withUnsafeBufferPointer { warp($0) }
        } else {
            ok = warp(logits)
        }
        return ok ? candidates.prefix(probs.count).map { ($0.id, $0.logit) } : []
    }

    /// The logits after the processors only (what greedy decoding takes the arg-max of).
    public mutating func processedLogits(_ logits: UnsafeBufferPointer<Float>, history: TokenHistory) -> [Float] {
        applyProcessors(logits, history: history) ? processed : Array(logits)
    }

    /// A proposal for speculative sampling: the distribution a draw picks from here (mask, processors,
    /// warpers), written to `proposal`, and a draw from it.
    mutating func propose(_ logits: UnsafeBufferPointer<Float>, history: TokenHistory, allowed: UnsafeBufferPointer<UInt64>? = nil,
                          into proposal: inout TokenDistribution) -> Int32 {
        guard applyProcessors(logits, history: history, allowed: allowed) else {
            distribution(logits, into: &proposal)
            return proposal.draw(rng.nextUnit())
        }
        let scores = processed
        scores.withUnsafeBufferPointer { distribution($0, into: &proposal) }
        return proposal.draw(rng.nextUnit())
    }

    /// Speculative sampling's check (Leviathan et al. 2023, Chen et al. 2023) of `guess`, which a draft
    /// drew from `proposal` (q): kept with probability min(1, p/q) where p is this sampler's
    /// distribution here, otherwise replaced by a draw from max(0, p − q), normalized. The token
    /// returned is distributed exactly as a plain draw from p. Greedy: the arg-max, as `sample`.
    mutating func sample(_ logits: UnsafeBufferPointer<Float>, history: TokenHistory, allowed: UnsafeBufferPointer<UInt64>? = nil,
                         checking guess: Int32, proposal: TokenDistribution,
                         observe: ((UnsafeBufferPointer<Float>) -> Void)? = nil) -> Int32 {
        guard applyProcessors(logits, history: history, allowed: allowed) else {
            observe?(logits)
            return check(logits, guess: guess, proposal: proposal)
        }
        let scores = processed
        return scores.withUnsafeBufferPointer {
            observe?($0)
            return check($0, guess: guess, proposal: proposal)
        }
    }

    private mutating func check(_ scores: UnsafeBufferPointer<Float>, guess: Int32, proposal: TokenDistribution) -> Int32 {
        if parameters.isGreedy { return Self.argmax(scores) }
        var p = target  // taken out while it fills (target is part of self); the buffer goes back after
        target = TokenDistribution()
        defer { target = p }
        distribution(scores, into: &p)
        let q = proposal.probability(of: guess)
        // A guess the proposal could not draw says nothing: a plain draw from p.
        guard q > 0 else { return p.draw(rng.nextUnit()) }
        if rng.nextUnit() * q < p.probability(of: guess) { return guess }
        if proposalById.count < scores.count { proposalById = [Double](repeating: 0, count: scores.count) }
        for (id, pq) in zip(proposal.ids, proposal.probabilities) where Int(id) < proposalById.count { proposalById[Int(id)] = pq }
        defer { for id in proposal.ids where Int(id) < proposalById.count { proposalById[Int(id)] = 0 } }
        var total = 0.0
        for (id, pp) in zip(p.ids, p.probabilities) { total += max(0, pp - proposalById[Int(id)]) }
        // p equal to q up to rounding (then every guess is kept but for rounding): p itself.
        guard total > 1e-12 else { return p.draw(rng.nextUnit()) }
        var r = rng.nextUnit() * total
        var last = p.ids[0]
        for (id, pp) in zip(p.ids, p.probabilities) {
            let excess = max(0, pp - proposalById[Int(id)])
            guard excess > 0 else { continue }
            last = id
            r -= excess
            if r < 0 { return id }
        }
        return last
    }

    /// The distribution a draw from `scores` follows, normalized; greedy, or nothing finite to sample
    /// from: the arg-max with probability 1.
    private mutating func distribution(_ scores: UnsafeBufferPointer<Float>, into out: inout TokenDistribution) {
        out.removeAll()
        guard !parameters.isGreedy, warp(scores) else {
            out.append(Self.argmax(scores), 1)
            return
        }
        let total = probs.reduce(0, +)
        for i in 0..<probs.count { out.append(candidates[i].id, probs[i] / total) }
    }

    private mutating func choose(_ scores: UnsafeBufferPointer<Float>) -> Int32 {
        if parameters.isGreedy { return Self.argmax(scores) }
        guard warp(scores) else { return Self.argmax(scores) }
        var r = rng.nextUnit() * probs.reduce(0, +)
        for i in 0..<probs.count {
            r -= probs[i]
            if r < 0 { return candidates[i].id }
        }
        return candidates[probs.count - 1].id
    }

    /// Writes the processed logits into `processed`; false (and nothing written) when no processor
    /// is on, so the caller uses the logits as they are. The mask applies from the first step; the
    /// penalties once there is a history.
    private mutating func applyProcessors(_ logits: UnsafeBufferPointer<Float>, history: TokenHistory,
                                          allowed: UnsafeBufferPointer<UInt64>? = nil) -> Bool {
        let p = parameters
        let penalties = p.hasProcessors && !history.isEmpty
        guard penalties || allowed != nil || !p.logitBias.isEmpty else { return false }
        if processed.count != logits.count { processed = [Float](repeating: 0, count: logits.count) }
        if p.noRepeatNgramSize > 0 && penalties { history.bannedNextTokens(ngramSize: p.noRepeatNgramSize, into: &banned) }
        let bannedIds = banned
        processed.withUnsafeMutableBufferPointer { out in
            _ = out.initialize(from: logits)
            if let allowed { Self.mask(out, allowed) }
            for (id, bias) in p.logitBias where Int(id) < out.count { out[Int(id)] += bias }
            guard penalties else { return }
            if p.repetitionPenalty != 1 {
                for id in history.distinctIds where Int(id) < out.count {
                    let s = out[Int(id)]
                    out[Int(id)] = s < 0 ? s * p.repetitionPenalty : s / p.repetitionPenalty
                }
            }
            if p.noRepeatNgramSize > 0 {
                for id in bannedIds where Int(id) < out.count { out[Int(id)] = -.infinity }
            }
            if p.frequencyPenalty != 0 || p.presencePenalty != 0 {
                for id in history.generatedIds where Int(id) < out.count {
                    out[Int(id)] -= Float(history.generatedCounts[Int(id)]) * p.frequencyPenalty + p.presencePenalty
                }
            }
        }
        return true
    }

    /// Sets every score whose bit is clear to -inf (whole words at a time where all 64 agree).
    private static func mask(_ out: UnsafeMutableBufferPointer<Float>, _ allowed: UnsafeBufferPointer<UInt64>) {
        for w in 0..<min(allowed.count, (out.count + 63) / 64) {
            let bits = allowed[w]
            if bits == .max { continue }
            let base = w << 6
            let end = min(base + 64, out.count)
            if bits == 0 {
                for i in base..<end { out[i] = -.infinity }
            } else {
                for i in base..<end where bits >> UInt64(i - base) & 1 == 0 { out[i] = -.infinity }
            }
        }
        // Ids past the mask's end are not in the constraint's vocabulary.
        for i in min(out.count, allowed.count * 64)..<out.count { out[i] = -.infinity }
    }

    /// Fills `candidates` (sorted, warped logits) and `probs` (unnormalised weights of the ones a
    /// draw may pick). False when nothing finite is left to sample from.
    private mutating func warp(_ logits: UnsafeBufferPointer<Float>) -> Bool {
        let p = parameters
        let maxLogit = logits.max() ?? 0
        // Non-finite logits (e.g. a checkpoint with NaN weights) leave nothing to sample from.
        guard maxLogit.isFinite else { return false }
        // Tokens more than 40 nats below the best have probability < 4e-18 each: dropping them
        // changes no cumulative sum that top-p compares, and saves sorting the whole vocabulary.
        let floor = maxLogit - 40 * p.temperature
        candidates.removeAll(keepingCapacity: true)
        for i in 0..<logits.count where logits[i] >= floor {
            candidates.append((logits[i] / p.temperature, Int32(i)))
        }
        guard !candidates.isEmpty else { return false }
        sorter.sortDescending(&candidates)
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
        if p.topP < 1 {
            // Keep the smallest prefix whose mass reaches topP (at least one token).
            let total = probs.reduce(0, +)
            var cumulative = 0.0
            var keep = probs.count
            for i in 0..<probs.count {
                cumulative += probs[i] / total
                if cumulative >= Double(p.topP) { keep = i + 1; break }
            }
            probs.removeLast(probs.count - keep)
        }
        if p.minP > 0 {
            // transformers compares softmax probabilities with min_p times the largest; relative to
            // the top token that is exp(logit - top), which probs already holds (probs[0] == 1).
            var keep = 1
            while keep < probs.count && probs[keep] >= Double(p.minP) { keep += 1 }
            probs.removeLast(probs.count - keep)
        }
        return true
    }
}
