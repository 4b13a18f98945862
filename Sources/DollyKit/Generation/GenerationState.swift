/// One generation's per-token logic, apart from the forward pass that feeds it: picks each token from
/// the logits after the previous one, applies stop tokens and the token budget, and (with a tokenizer)
/// turns tokens into text cut at the request's stop texts. `DollyModel.generate` drives it with one
/// session; the server drives one per slot with batched forward passes. Flow goes one way: logits in,
/// a token to feed back and text to show out. Every decode loop (`TokenGenerator`, the batch engine,
/// `greedyTrace`) chooses its tokens here and nowhere else.
public struct GenerationState {
    /// The generated ids, without the stop token.
    public private(set) var tokens: [Int32] = []
    /// The stop token that ended the generation, if one did.
    public private(set) var stopToken: Int32?
    /// Set once the generation has ended.
    public private(set) var stopReason: StopReason?
    public var isFinished: Bool { stopReason != nil }

    private let maxNewTokens: Int
    private let stopTokens: Set<Int32>
    private var sampler: Sampler
    private var history = TokenHistory()
    private let tracksHistory: Bool
    private var text: TextAssembly?
    private var grammar: GrammarCursor?
    /// The grammar's allowed ids for the current step (a bitset sized once: no allocation per token).
    private var allowed: [UInt64] = []
    private let sortedStopTokens: [Int32]

    /// The text side: ids to UTF-8, stop texts, and (for instructions) Dolly's whitespace strip.
    private struct TextAssembly {
        var decoder: StreamingDecoder
        var stops: StopTextFilter
        var stripper: StrippingStream?

        mutating func emit(_ piece: String) -> String {
            guard !piece.isEmpty else { return "" }
            if stripper != nil { return stripper!.push(piece) }
            return piece
        }
    }

    /// `tokenizer` nil: tokens only (`newText` and `finalText` return ""). `strip`: answer text as the
    /// pipeline returns it, without surrounding whitespace (instructions); raw continuations keep theirs.
    public init(prompt: [Int32], maxNewTokens: Int, sampling: SamplingParameters, stopTokens: Set<Int32>,
                vocabularySize: Int, tokenizer: Tokenizer? = nil, stopTexts: [String] = [], strip: Bool = false) {
        self.maxNewTokens = maxNewTokens
        self.stopTokens = stopTokens
        sortedStopTokens = stopTokens.sorted()
        sampler = Sampler(sampling)
        if let constraint = sampling.constraint {
            grammar = constraint.start()
            allowed = [UInt64](repeating: 0, count: max(constraint.vocabulary.maskWords, (vocabularySize + 63) / 64))
        }
        // Only the processors read the history; without them it stays empty (nothing to keep).
        tracksHistory = sampling.hasProcessors
        if tracksHistory {
            history.reserve(prompt.count + maxNewTokens, vocabularySize: vocabularySize)
            history.append(contentsOf: prompt)
        }
        tokens.reserveCapacity(maxNewTokens)
        if let tokenizer {
            text = TextAssembly(decoder: StreamingDecoder(tokenizer: tokenizer, skipSpecialTokens: false),
                                stops: StopTextFilter(stopTexts: stopTexts), stripper: strip ? StrippingStream() : nil)
        }
        if maxNewTokens <= 0 { stopReason = .maxTokens }
    }

    /// The next token, picked from the logits of the last token fed to the model; nil once the
    /// generation has ended (`stopReason` says why). A returned token is part of the output; feed it
    /// back unless `isFinished` (the budget is spent: no need to run it). `observe` sees the scores
    /// the token is chosen from (the logits after the processors).
    public mutating func next(_ logits: UnsafeBufferPointer<Float>,
                              observe: ((UnsafeBufferPointer<Float>) -> Void)? = nil) -> Int32? {
        pick { sampler, history, allowed in sampler.sample(logits, history: history, allowed: allowed, observe: observe) }
    }

    /// `next` for a guess a draft drew from `proposal` (speculative sampling): the guess is kept with
    /// probability min(1, p/q), otherwise a token from the residual takes its place; either way the
    /// token follows the distribution `next` draws from. Greedy: exactly `next`.
    public mutating func next(_ logits: UnsafeBufferPointer<Float>, checking guess: Int32, proposal: TokenDistribution,
                              observe: ((UnsafeBufferPointer<Float>) -> Void)? = nil) -> Int32? {
        pick { sampler, history, allowed in
            sampler.sample(logits, history: history, allowed: allowed, checking: guess, proposal: proposal, observe: observe)
        }
    }

    /// A draft's step on a copy of this state (`proposalCopy`): the distribution this state would draw
    /// from, given the draft's logits, written to `proposal`, and the token drawn from it, stop tokens
    /// included (nil: the generation has ended, or nothing is allowed).
    mutating func propose(_ logits: UnsafeBufferPointer<Float>, into proposal: inout TokenDistribution) -> Int32? {
        var drawn: Int32 = -1
        _ = pick { sampler, history, allowed in
            drawn = sampler.propose(logits, history: history, allowed: allowed, into: &proposal)
            return drawn
        }
        return drawn >= 0 && (stopReason == nil || stopToken == drawn || stopReason == .maxTokens) ? drawn : nil
    }

    /// A copy for a draft to propose with: the same history, grammar and parameters, drawing from
    /// another random stream (`stream` numbers the copies).
    func proposalCopy(stream: UInt64) -> GenerationState {
        var copy = self
        copy.sampler = sampler.reseeded(sampler.seed ^ (0x9E37_79B9_7F4A_7C15 &* (stream &+ 1)))
        copy.text = nil
        return copy
    }

    /// One choice: `choose` picks from the logits given the history and (under a grammar) the ids
    /// allowed here; stop tokens, the budget and the grammar's state are kept here.
    private mutating func pick(_ choose: (inout Sampler, TokenHistory, UnsafeBufferPointer<UInt64>?) -> Int32) -> Int32? {
        guard stopReason == nil else { return nil }
        guard grammar != nil else { return record(choose(&sampler, history, nil)) }
        return pickConstrained(choose)
    }

    /// `pick` under a grammar: the choice is among the ids the grammar allows here, stop tokens
    /// only where the grammar is complete. Nothing allowed ends the generation (never token 0).
    private mutating func pickConstrained(_ choose: (inout Sampler, TokenHistory, UnsafeBufferPointer<UInt64>?) -> Int32) -> Int32? {
        let complete = grammar!.isComplete
        let budget = maxNewTokens - tokens.count
        let any = allowed.withUnsafeMutableBufferPointer { words in
            guard grammar!.mask(into: words) else { return false }
            // Near the end of the budget, only tokens that still leave room to finish.
            if !complete { grammar!.keepFinishable(budget: budget, mask: words) }
            return true
        }
        for id in sortedStopTokens where Int(id) >= 0 && Int(id) < allowed.count * 64 {
            if complete { allowed[Int(id) >> 6] |= 1 << UInt64(id & 63) } else { allowed[Int(id) >> 6] &= ~(1 << UInt64(id & 63)) }
        }
        guard any || (complete && !stopTokens.isEmpty) else {
            // Complete with no stop token to emit: the grammar has ended the output by itself.
            stopReason = complete ? .stopToken : .noAllowedToken
            return nil
        }
        let id = allowed.withUnsafeBufferPointer { choose(&sampler, history, $0) }
        // Scores that were all -inf or NaN can make the sampler fall back to an id the mask refused.
        guard id >= 0, Int(id) < allowed.count * 64, allowed[Int(id) >> 6] >> UInt64(id & 63) & 1 == 1 else {
            stopReason = .noAllowedToken
            return nil
        }
        if !stopTokens.contains(id) { grammar!.advance(token: id) }
        return record(id)
    }

    private mutating func record(_ id: Int32) -> Int32? {
        if stopTokens.contains(id) {
            stopReason = .stopToken
            stopToken = id
            return nil
        }
        tokens.append(id)
        if tracksHistory { history.appendGenerated(id) }
        if tokens.count >= maxNewTokens { stopReason = .maxTokens }
        return id
    }

    /// Whether every choice is the arg-max (no random draws).
    public var isGreedy: Bool { sampler.parameters.isGreedy }

    /// Whether a grammar constrains the output.
    public var isConstrained: Bool { grammar != nil }

    /// Tokens the grammar forces next (grammar jump-forward's guesses; none without a grammar).
    public func forcedTokens(limit: Int, into tokens: inout [Int32]) {
        guard let grammar, !isFinished else {
            tokens.removeAll(keepingCapacity: true)
            return
        }
        grammar.forcedTokens(limit: limit, into: &tokens)
    }

    /// Text the last token completed that is safe to show (whole UTF-8, past any possible stop text);
    /// ends the generation with `.stopText` when a stop text appears.
    public mutating func newText() -> String {
        // Mutated in place through `text!` (a copy would copy the decoder's buffers every token).
        guard text != nil, let last = tokens.last else { return "" }
        let decoded = text!.decoder.append(last)
        let safe = text!.stops.push(decoded)
        let piece = text!.emit(safe)
        if text!.stops.stopped { stopReason = .stopText }
        return piece
    }

    /// Ends the generation for a reason of the caller's (cancelled, context full). A stop text found
    /// by the last token stays the reason.
    public mutating func stop(_ reason: StopReason) {
        if stopReason != .stopText { stopReason = reason }
    }

    /// What the text holds back once the generation has ended (an unfinished UTF-8 sequence shown
    /// lossily, a tail that could have begun a stop text).
    public mutating func finalText() -> String {
        guard text != nil, !text!.stops.stopped else { return "" }
        let rest = text!.stops.push(text!.decoder.flush())
        let held = text!.stops.flush()
        return text!.emit(rest + held)
    }
}
