/// A request waiting or running, and the stream its events go to.
final class BatchJob: @unchecked Sendable {
    let request: BatchRequest
    let continuation: AsyncStream<BatchEvent>.Continuation
    private let flag = StopFlag()
    let submittedAt = monotonicNanoseconds()
    /// Set by the engine's thread only.
    var admittedAt: UInt64 = 0
    var firstTokenAt: UInt64 = 0

    init(request: BatchRequest, continuation: AsyncStream<BatchEvent>.Continuation) {
        self.request = request
        self.continuation = continuation
    }

    func cancel() { flag.set() }
    var isCancelled: Bool { flag.isSet }

    func finish(_ reason: StopReason, promptTokens: Int, cached: Int = 0, completion: Int = 0,
                promptLogprobs: [TokenLogprob] = []) {
        var summary = BatchSummary(stopReason: reason, promptTokens: promptTokens, cachedPromptTokens: cached,
                                   completionTokens: completion, promptLogprobs: promptLogprobs)
        let now = monotonicNanoseconds(), admitted = admittedAt == 0 ? now : admittedAt
        let first = firstTokenAt == 0 ? now : firstTokenAt
        summary.queueNanoseconds = admitted - min(submittedAt, admitted)
        summary.promptNanoseconds = first - min(admitted, first)
        summary.generationNanoseconds = now - min(first, now)
        continuation.yield(.finished(summary))
        continuation.finish()
    }
}

/// One sequence's place in the batch: its cache (kept between requests) and the tokens it holds.
final class BatchSlot {
    let cache: KVCache
    /// Its place in the engine's slots (and the draft model's caches).
    var index = 0
    var job: BatchJob?
    /// The tokens in the cache, in order (prompt, then fed answer tokens).
    var fed: [Int32] = []
    /// The sampled token to feed in the next step.
    var pendingToken: Int32?
    var state: GenerationState?
    var reused = 0
    var promptLogprobs: [TokenLogprob] = []
    /// Prompt lookup: this step's guesses, how many of `fed` precede them, how many the slot's choices
    /// have confirmed, and how many to guess next (adapts to hits and misses).
    var guesses: [Int32] = []
    var kept = 0
    var matched = 0
    var guessLength = 64
    /// The serial of the adapter the cached tokens were computed with (0: the base), kept after the
    /// request like `fed`, for prefix reuse.
    var cacheAdapter: UInt64 = 0

    init(cache: KVCache) { self.cache = cache }

    var isPrefilling: Bool { job != nil && fed.count < job!.request.prompt.count }

    func sharedPrefix(with prompt: [Int32]) -> Int {
        var n = 0
        while n < fed.count && n < prompt.count && fed[n] == prompt[n] { n += 1 }
        return n
    }

    func start(_ job: BatchJob, reusing n: Int, model: DollyModel) {
        self.job = job
        job.admittedAt = monotonicNanoseconds()
        cacheAdapter = job.request.adapter?.serial ?? 0
        cache.truncate(to: n)
        fed.removeLast(fed.count - n)
        fed.reserveCapacity(job.request.prompt.count + job.request.maxNewTokens)
        reused = n
        guessLength = 64
        guesses.removeAll(keepingCapacity: true)
        pendingToken = nil
        state = nil
        promptLogprobs = []
    }

    func beginGeneration(model: DollyModel) {
        let r = job!.request
        state = GenerationState(prompt: r.prompt, maxNewTokens: r.maxNewTokens, sampling: r.sampling,
                                stopTokens: model.stopTokens, vocabularySize: model.config.vocabSize,
                                tokenizer: model.tokenizer, stopTexts: r.stopTexts, strip: r.strip)
    }

    func release() {
        job = nil
        state = nil
        pendingToken = nil
    }
}
