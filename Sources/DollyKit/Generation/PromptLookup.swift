#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Prompt-lookup decoding: speculative decoding whose guesses come from the text itself. Answers that
/// copy their context (extraction, closed QA, summaries: Dolly's `Input:` tasks) repeat runs of its
/// tokens; when the last few tokens occurred before, what followed them then is a good guess for what
/// follows now. The guesses are checked in one forward pass (`TokenGenerator.runSpeculative`).
public struct PromptLookup: Sendable, Equatable {
    /// Most tokens guessed per pass (1 pass of k+1 tokens costs about one token's pass while
    /// generation is bound by memory bandwidth).
    public var maxDraft: Int
    /// Lengths of the n-gram looked up, longest first.
    public var ngramMin: Int
    public var ngramMax: Int

    public init(maxDraft: Int = 8, ngramMin: Int = 2, ngramMax: Int = 4) {
        self.maxDraft = maxDraft
        self.ngramMin = max(1, ngramMin)
        self.ngramMax = max(self.ngramMin, ngramMax)
    }

    /// Up to `limit` tokens that followed the latest earlier occurrence of the longest suffix of
    /// `sequence` (ngramMax down to ngramMin tokens) that occurred before; empty when none did.
    public func draft(after sequence: [Int32], limit: Int, into draft: inout [Int32]) {
        draft.removeAll(keepingCapacity: true)
        guard limit > 0 else { return }
        let count = sequence.count
        sequence.withUnsafeBufferPointer { s in
            var n = min(ngramMax, count - 1)
            while n >= ngramMin {
                let suffix = count - n
                // Latest occurrence first: the most recent context is the likeliest to continue alike.
                var start = suffix - 1
                while start >= 0 {
                    var k = 0
                    while k < n && s[start + k] == s[suffix + k] { k += 1 }
                    if k == n {
                        let from = start + n
                        let end = min(from + limit, count)
                        if end > from {
                            for i in from..<end { draft.append(s[i]) }
                            return
                        }
                    }
                    start -= 1
                }
                n -= 1
            }
        }
    }
}

extension TokenGenerator {
    /// `run` with speculation. After each token, a few tokens are guessed (by prompt lookup: those that
    /// followed the latest earlier occurrence of the last few; or by a draft model) and fed with it in
    /// one pass; the state then chooses
    /// from each row's logits exactly as it would have one pass at a time (the kernels give a row the
    /// same values whatever the batch), keeping guesses while they equal its choice. Its first other
    /// choice is the next token, and the cache is rewound past the guesses it refused. For guesses
    /// that were not drawn (prompt lookup, a grammar's forced text) and greedy drafts, every choice,
    /// greedy or sampled (the same random draws, in the same order), is the one plain decoding makes:
    /// the output is the same token for token. A sampled draft model's guesses are checked by
    /// speculative sampling's rule: the same distribution as plain decoding, other draws.
    func runSpeculative(_ state: inout GenerationState, prompt: [Int32], speculation: Speculation, context: [Int32],
                        observe: ((UnsafeBufferPointer<Float>) -> Void)?,
                        onToken: (Int32, inout GenerationState) throws -> Bool) throws -> GenerationResult {
        let room = session.contextLength - session.position
        guard prompt.count <= room else { throw ModelError.promptTooLong(tokens: prompt.count, limit: room) }
        let vocab = session.model.config.vocabSize
        let t0 = monotonicNanoseconds()
        try session.evaluate(prompt)
        let t1 = monotonicNanoseconds()
        var sequence = context
        sequence.reserveCapacity(context.count + session.contextLength)
        var draft: [Int32] = [], fed: [Int32] = []
        var proposals: [TokenDistribution] = []
        draft.reserveCapacity(speculation.maxDraft)
        fed.reserveCapacity(speculation.maxDraft + 1)
        // One row of logits per fed token, kept for the checks (sized once).
        let rows = UnsafeMutablePointer<Float>.allocate(capacity: (speculation.maxDraft + 1) * vocab)
        defer { rows.deallocate() }
        var drafted = 0, accepted = 0
        var length = speculation.maxDraft  // adapts: doubled after a full match, cut to what matched after a miss
        var budget = GuessBudget(maxDraft: speculation.maxDraft)
        // Sampled guesses from a draft model: how many are drawn changes the random draws, so a count
        // that followed the clock would make a seed's output vary; those keep the plain length rule.
        var timed = true
        if case .draftModel = speculation, !state.isGreedy { timed = false }
        var draftCalls = 0

        func result() -> GenerationResult {
            GenerationResult(tokens: state.tokens, stopReason: state.stopReason ?? .maxTokens, promptTokens: prompt.count,
                             promptSeconds: Double(t1 - t0) / 1e9, generationSeconds: Double(monotonicNanoseconds() - t1) / 1e9,
                             draftedTokens: drafted, acceptedTokens: accepted)
        }
        guard var next = state.next(session.lastLogits, observe: observe) else { return result() }
        if !(try onToken(next, &state)) { state.stop(.cancelled) }
        while !state.isFinished {
            let free = session.contextLength - session.position
            guard free > 0 else {
                state.stop(.contextFull)
                break
            }
            sequence.append(next)
            // What a grammar forces is the surest guess (jump-forward); otherwise the source's.
            state.forcedTokens(limit: min(speculation.maxDraft, free - 1), into: &draft)
            let forced = !draft.isEmpty
            var drawn = false
            if !forced {
                let limit = timed ? budget.guesses(limit: min(length, free - 1)) : min(length, free - 1)
                let d0 = monotonicNanoseconds()
                drawn = try speculation.draft(after: sequence, limit: limit, state: state, into: &draft, proposals: &proposals)
                // A draft model's first call also runs the prompt through it: not a guess's cost.
                draftCalls += 1
                if drawn && draftCalls > 1 { budget.recordDraft(guesses: draft.count, seconds: Double(monotonicNanoseconds() - d0) / 1e9) }
            }
            fed.removeAll(keepingCapacity: true)
            fed.append(next)
            fed.append(contentsOf: draft)
            let base = session.position
            let p0 = monotonicNanoseconds()
            defer { budget.recordPass(rows: fed.count, seconds: Double(monotonicNanoseconds() - p0) / 1e9) }
            if draft.isEmpty {
                try session.evaluate(fed)
                guard let token = state.next(session.lastLogits, observe: observe) else { break }
                next = token
                if !(try onToken(next, &state)) { state.stop(.cancelled) }
                continue
            }
            try session.evaluate(fed, logits: .all { first, block in
                (rows + first * vocab).update(from: block.baseAddress!, count: block.count)
            })
            drafted += draft.count
            var matched = 0
            var following: Int32?
            for i in 0...draft.count {
                let row = UnsafeBufferPointer(start: rows + i * vocab, count: vocab)
                let choice = drawn && i < draft.count
                    ? state.next(row, checking: draft[i], proposal: proposals[i], observe: observe)
                    : state.next(row, observe: observe)
                guard let token = choice else { break }
                if !(try onToken(token, &state)) { state.stop(.cancelled) }
                if i < draft.count && token == draft[i] {
                    matched += 1
                    sequence.append(token)
                    if state.isFinished { break }
                    continue
                }
                following = token
                break
            }
            accepted += matched
            if !forced { budget.recordChecks(guessed: draft.count, kept: matched) }
            // Keep the fed token and the confirmed guesses; the refused ones' keys and values go.
            session.rewind(to: base + 1 + matched)
            if !forced {
                length = matched == draft.count ? min(speculation.maxDraft, max(1, length * 2)) : max(1, matched + 1)
            }
            guard let token = following else { break }
            next = token
        }
        return result()
    }
}
