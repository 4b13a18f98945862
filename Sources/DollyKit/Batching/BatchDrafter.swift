/// A draft model in the batch engine (`serve --draft`): one cache per slot, and every slot's guesses
/// made in the same passes, one row per slot and guess, as the engine batches its slots for the
/// target. Guesses are drawn as `DraftModel` draws them (on a copy of the slot's state, so with the
/// request's processors and grammar) and checked by the engine through the state's speculative
/// sampling rule, with the proposals kept here.
final class BatchDrafter {
    /// One slot's drafting in a step: the tokens its cache should hold (the slot's prompt and answer so
    /// far, then the token about to be fed), its state, and how many guesses it may have.
    struct Work {
        let slot: Int
        let fed: [Int32]
        let next: Int32
        let state: GenerationState
        let limit: Int

        var count: Int { fed.count + 1 }
        subscript(i: Int) -> Int32 { i < fed.count ? fed[i] : next }
    }

    let model: DollyModel
    let maxDraft: Int
    /// This step's guesses and the distributions they were drawn from, by slot.
    private(set) var guesses: [[Int32]]
    private(set) var proposals: [[TokenDistribution]]
    private let workspace: ForwardWorkspace
    private let caches: [KVCache]
    /// The tokens each slot's draft cache holds, in order.
    private var held: [[Int32]]
    private var proposers: [GenerationState?]
    private var fedUpTo: [Int]
    private var logitRows: [Int] = []
    private var logitSlots: [Int] = []

    init(model: DollyModel, target: DollyModel, slots: Int, context: Int, kvType: KVCacheType, rows: Int, threads: Int,
         maxDraft: Int) throws {
        try DraftModel.checkSameTokenizer(model.tokenizer, target.tokenizer)
        guard maxDraft >= 1 else { throw ModelError.invalidRequest("a draft model guesses at least one token per pass") }
        self.model = model
        self.maxDraft = maxDraft
        let capacity = min(context, model.config.maxPositionEmbeddings)
        caches = try (0..<slots).map { _ in try model.network.makeCache(capacity: capacity, type: kvType) }
        workspace = ForwardWorkspace(config: model.config, rows: max(rows, slots), context: capacity, threads: threads,
                                     logitRows: max(16, slots))
        guesses = Array(repeating: [], count: slots)
        proposals = Array(repeating: [], count: slots)
        held = Array(repeating: [], count: slots)
        proposers = Array(repeating: nil, count: slots)
        fedUpTo = Array(repeating: 0, count: slots)
        for i in 0..<slots {
            guesses[i].reserveCapacity(maxDraft)
            proposals[i] = Array(repeating: TokenDistribution(), count: maxDraft)
        }
    }

    /// Guesses for every slot in `work` (`guesses[slot]`, empty when its draft cache is full): first
    /// each cache catches up with its sequence (in passes of at most the workspace's rows, every slot in
    /// each), then one guess per slot and pass until each has its limit or drew a stop.
    func draft(_ work: [Work]) {
        for i in guesses.indices {
            guesses[i].removeAll(keepingCapacity: true)
            proposers[i] = nil
        }
        for w in work {
            let cache = caches[w.slot]
            guard w.limit > 0, w.count + w.limit <= cache.capacity else { continue }
            var shared = 0
            let h = held[w.slot]
            while shared < h.count, shared < w.count, h[shared] == w[shared] { shared += 1 }
            shared = min(shared, w.count - 1)  // the last token runs: its logits give the first guess
            cache.truncate(to: shared)
            held[w.slot].removeLast(h.count - shared)
            fedUpTo[w.slot] = shared
            // Each pass proposes from its own random stream, numbered by where it starts: reproducible for a seed.
            proposers[w.slot] = w.state.proposalCopy(stream: UInt64(w.count))
        }
        var active = work.filter { proposers[$0.slot] != nil }
        // Catch up: the rows the caches lack, the last one of each sequence giving the first guess.
        while active.contains(where: { fedUpTo[$0.slot] < $0.count }) {
            workspace.clear()
            logitRows.removeAll(keepingCapacity: true)
            logitSlots.removeAll(keepingCapacity: true)
            var budget = workspace.rows
            for w in active where fedUpTo[w.slot] < w.count && budget > 0 {
                let from = fedUpTo[w.slot], n = min(budget, w.count - from)
                let tokens = (from..<from + n).lazy.map { w[$0] }
                let first = workspace.append(tokens, of: caches[w.slot])
                held[w.slot].append(contentsOf: tokens)
                fedUpTo[w.slot] = from + n
                budget -= n
                if fedUpTo[w.slot] == w.count {
                    logitRows.append(first + n - 1)
                    logitSlots.append(w.slot)
                }
            }
            model.network.forward(workspace)
            propose()
        }
        // One guess per slot and pass, fed back for the next one.
        active.removeAll { guesses[$0.slot].count >= $0.limit || proposers[$0.slot]?.isFinished != false }
        while !active.isEmpty {
            workspace.clear()
            logitRows.removeAll(keepingCapacity: true)
            logitSlots.removeAll(keepingCapacity: true)
            for w in active {
                let guess = guesses[w.slot][guesses[w.slot].count - 1]
                logitRows.append(workspace.append(CollectionOfOne(guess), of: caches[w.slot]))
                logitSlots.append(w.slot)
                held[w.slot].append(guess)
            }
            model.network.forward(workspace)
            propose()
            active.removeAll { guesses[$0.slot].count >= $0.limit || proposers[$0.slot]?.isFinished != false }
        }
    }

    /// The next guess of each slot in `logitSlots`, from its row in `logitRows`.
    private func propose() {
        let vocab = model.config.vocabSize
        var k = 0
        while k < logitRows.count {
            let n = min(workspace.logitRows, logitRows.count - k)
            logitRows.withUnsafeBufferPointer { model.network.project(workspace, rows: UnsafeBufferPointer(rebasing: $0[k..<k + n])) }
            for j in k..<k + n {
                let slot = logitSlots[j]
                let logits = UnsafeBufferPointer(start: workspace.logits + (j - k) * vocab, count: vocab)
                let i = guesses[slot].count
                if let guess = proposers[slot]!.propose(logits, into: &proposals[slot][i]) {
                    guesses[slot].append(guess)
                } else {
                    proposers[slot] = nil  // nothing allowed: no more guesses this step
                }
            }
            k += n
        }
    }
}
