import CSIMD
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

/// Continuous batching: up to `parallel` sequences share every forward pass. Each step feeds the next
/// token of every decoding sequence plus a chunk of a waiting prompt, so one read of the weights serves
/// them all (generation is bound by memory bandwidth, so four streams cost little more than one).
/// Sequences finish, leave and join between steps; requests beyond the slots wait in a bounded queue.
/// A slot keeps its cache after a request: the next one sharing a prefix with it skips that prefix.
/// Batching never changes a result: each row's arithmetic is independent of the other rows.
public final class BatchEngine: @unchecked Sendable {
    public struct Options: Sendable {
        /// Sequences decoded together.
        public var parallel: Int
        /// Tokens each slot's KV cache holds (prompt plus answer).
        public var context: Int
        public var kvType: KVCacheType
        /// Requests that may wait for a slot; beyond, `submit` throws `queueFull`.
        public var maxQueue: Int
        /// Rows per forward pass (decoding rows first, the rest for prompt chunks).
        public var stepRows: Int
        /// Reuse a slot's cached prefix.
        public var prefixCache: Bool
        /// Threads every forward pass runs on (on the engine's own thread).
        public var threads: Int
        /// Prompt lookup for every request: each decoding slot's guesses ride in the same pass (several
        /// rows per slot), checked by its own choices, so every answer is the same token for token.
        public var lookup: PromptLookup?
        /// A draft model sharing the model's tokenizer (`serve --draft`): each decoding slot's guesses come
        /// from it (every slot's in the same draft passes), checked by speculative sampling: greedy
        /// answers are the same token for token, sampled ones follow the same distribution.
        public var draft: DollyModel?
        /// Most tokens the draft guesses per step and slot.
        public var draftMax: Int

        public init(parallel: Int = 4, context: Int = 2048, kvType: KVCacheType = .f16, maxQueue: Int = 64,
                    stepRows: Int = 64, prefixCache: Bool = true, threads: Int = DollyModel.defaultThreads,
                    lookup: PromptLookup? = nil, draft: DollyModel? = nil, draftMax: Int = 4) {
            self.parallel = parallel
            self.context = context
            self.kvType = kvType
            self.maxQueue = maxQueue
            self.stepRows = stepRows
            self.prefixCache = prefixCache
            self.threads = threads
            self.lookup = lookup
            self.draft = draft
            self.draftMax = draftMax
        }
    }

    /// Counters for monitoring (a snapshot).
    public struct Statistics: Sendable {
        public var active = 0
        public var queued = 0
        public var promptTokens = 0
        public var cachedPromptTokens = 0
        public var generatedTokens = 0
        /// With prompt lookup or a draft model: tokens guessed, and how many the slots' checks kept.
        public var draftedTokens = 0
        public var acceptedTokens = 0
        public var steps = 0
        /// Seconds spent in forward passes.
        public var busySeconds = 0.0

        public init() {}
    }

    public let model: DollyModel
    public let options: Options

    private let lock = Condition()
    private var queue: [BatchJob] = []        // guarded by lock
    private var stats = Statistics()     // guarded by lock
    private var stopping = false         // guarded by lock
    private var finished = false         // guarded by lock
    private var thread: BackgroundThread?

    // Owned by the engine thread.
    private var slots: [BatchSlot]
    private let workspace: ForwardWorkspace
    private var logitRows: [Int] = []
    /// For each row in `logitRows`: its slot, and its index among the slot's guessed rows (-1: the one
    /// row of a slot that guessed nothing).
    private var logitOwners: [(slot: BatchSlot, row: Int)] = []
    private var fed: [(slot: BatchSlot, rows: Int, first: Int)] = []  // this step's segments
    private var stepTokens: [Int32] = []
    private var logprobScratch: [Double]
    private let drafter: BatchDrafter?
    private var draftWork: [BatchDrafter.Work] = []
    private var prefilling: [BatchSlot] = []
    private var prefillRows: [Int] = []

    public init(model: DollyModel, options: Options) throws {
        guard options.parallel >= 1 else { throw ModelError.invalidRequest("parallel must be at least 1") }
        guard options.maxQueue >= 0 else { throw ModelError.invalidRequest("the queue size must be >= 0") }
        guard options.threads >= 1 else { throw ModelError.invalidRequest("threads must be at least 1") }
        self.model = model
        var o = options
        o.stepRows = max(o.stepRows, o.parallel)
        self.options = o
        guard o.draft == nil || o.lookup == nil else {
            throw ModelError.invalidRequest("a draft model and prompt lookup are two sources of guesses: give one")
        }
        slots = try (0..<o.parallel).map { _ in BatchSlot(cache: try model.network.makeCache(capacity: o.context, type: o.kvType)) }
        for (i, slot) in slots.enumerated() { slot.index = i }
        drafter = try o.draft.map {
            try BatchDrafter(model: $0, target: model, slots: o.parallel, context: o.context, kvType: o.kvType, rows: o.stepRows,
                             threads: o.threads, maxDraft: o.draftMax)
        }
        workspace = ForwardWorkspace(config: model.config, rows: o.stepRows, context: o.context, threads: o.threads,
                                     logitRows: max(16, o.parallel))
        logitRows.reserveCapacity(o.parallel)
        fed.reserveCapacity(o.parallel)
        logprobScratch = [Double](repeating: 0, count: model.config.vocabSize)
        thread = BackgroundThread.start(stackSize: 8 << 20) { [unowned self] in self.run() }
    }

    /// Queues `request`; its events arrive on the returned stream. Cancelling the consumer (or
    /// dropping the stream) frees the request's slot within one step.
    public func submit(_ request: BatchRequest) throws -> AsyncStream<BatchEvent> {
        guard !request.prompt.isEmpty else { throw BatchError.emptyPrompt }
        let vocab = model.config.vocabSize
        if let bad = request.prompt.first(where: { $0 < 0 || Int($0) >= vocab }) { throw BatchError.badToken(bad) }
        guard request.prompt.count + max(request.maxNewTokens, 0) <= options.context else {
            throw BatchError.contextExceeded(promptTokens: request.prompt.count, maxNewTokens: request.maxNewTokens,
                                             context: options.context)
        }
        if let bad = request.sampling.outOfRange {
            throw ModelError.invalidRequest("\(bad.field.rawValue) \(bad.requirement)")
        }
        let (stream, continuation) = AsyncStream<BatchEvent>.makeStream(bufferingPolicy: .unbounded)
        let job = BatchJob(request: request, continuation: continuation)
        continuation.onTermination = { _ in job.cancel() }
        lock.lock()
        defer { lock.unlock() }
        guard !stopping else { throw BatchError.shuttingDown }
        // Free slots take requests at once; beyond them, maxQueue may wait.
        guard queue.count < options.maxQueue + (options.parallel - stats.active) else {
            throw BatchError.queueFull(limit: options.maxQueue)
        }
        queue.append(job)
        stats.queued = queue.count
        lock.signal()
        return stream
    }

    /// A snapshot of the counters.
    public var statistics: Statistics { lock.withLock { stats } }

    /// Stops taking requests, lets running and queued ones finish for up to `grace` seconds, then
    /// ends the rest with `.cancelled` and stops the engine thread.
    public func shutdown(grace: Double) {
        lock.lock()
        stopping = true
        lock.signal()
        let deadline = Date().addingTimeInterval(grace)
        while !finished && (stats.active > 0 || !queue.isEmpty) && Date() < deadline {
            lock.wait(seconds: min(deadline.timeIntervalSinceNow, 0.05))
        }
        finished = true
        lock.signal()
        lock.unlock()
        while thread?.isFinished == false { usleep(1000) }
    }

    // MARK: - Engine thread

    private func run() {
        while true {
            lock.lock()
            while !finished && queue.isEmpty && slots.allSatisfy({ $0.job == nil }) { lock.wait() }
            if finished {
                let waiting = queue
                queue.removeAll()
                stats.queued = 0
                lock.unlock()
                for job in waiting { job.finish(.cancelled, promptTokens: job.request.prompt.count) }
                for slot in slots where slot.job != nil { finish(slot, .cancelled) }
                return
            }
            admit()
            lock.unlock()
            step()
        }
    }

    /// Moves queued jobs into free slots (under lock), each into the slot whose cache shares the longest
    /// prefix with its prompt.
    private func admit() {
        while !queue.isEmpty, slots.contains(where: { $0.job == nil }) {
            let job = queue.removeFirst()
            if job.isCancelled { continue }
            var best = -1, bestShared = -1
            for (i, slot) in slots.enumerated() where slot.job == nil {
                // A cache computed under another adapter holds other keys and values.
                let sameAdapter = slot.cacheAdapter == (job.request.adapter?.serial ?? 0)
                let shared = options.prefixCache && !job.request.promptLogprobs && sameAdapter ? slot.sharedPrefix(with: job.request.prompt) : 0
                if shared > bestShared { best = i; bestShared = shared }
            }
            // At least the last prompt token runs: its logits start the answer.
            let reuse = min(bestShared, job.request.prompt.count - 1)
            slots[best].start(job, reusing: reuse, model: model)
            stats.active += 1
            stats.cachedPromptTokens += reuse
        }
        stats.queued = queue.count
    }

    /// One forward pass over every busy slot.
    private func step() {
        for slot in slots where slot.job?.isCancelled == true { finish(slot, .cancelled) }
        workspace.clear()
        logitRows.removeAll(keepingCapacity: true)
        logitOwners.removeAll(keepingCapacity: true)
        var budget = workspace.rows
        fed.removeAll(keepingCapacity: true)
        var decodingLeft = 0
        for slot in slots where slot.job != nil && slot.pendingToken != nil { decodingLeft += 1 }
        if let drafter, decodingLeft > 0 { prepareDrafts(drafter, rows: budget, decoding: decodingLeft) }
        for slot in slots where slot.job != nil && slot.pendingToken != nil {
            decodingLeft -= 1
            let token = slot.pendingToken!
            slot.pendingToken = nil
            slot.fed.append(token)
            slot.guesses.removeAll(keepingCapacity: true)
            if let lookup = options.lookup {
                // Guesses fit the rows the other decoding slots leave, the cache, and the answer's budget.
                let rows = budget - decodingLeft
                let room = min(rows - 1, slot.cache.capacity - slot.cache.count - 1, lookup.maxDraft, slot.guessLength,
                               slot.job!.request.maxNewTokens - (slot.state?.tokens.count ?? 0) - 1)
                if room > 0 { lookup.draft(after: slot.fed, limit: room, into: &slot.guesses) }
            } else if let drafter {
                slot.guesses.append(contentsOf: drafter.guesses[slot.index])
            }
            stepTokens.removeAll(keepingCapacity: true)
            stepTokens.append(token)
            stepTokens.append(contentsOf: slot.guesses)
            let first = workspace.append(stepTokens, of: slot.cache, adapter: slot.job!.request.adapter)
            slot.fed.append(contentsOf: slot.guesses)
            slot.kept = slot.fed.count - slot.guesses.count
            slot.matched = 0
            fed.append((slot, stepTokens.count, first))
            budget -= stepTokens.count
        }
        // The rows left go to waiting prompts in equal shares, then what a short one did not need to
        // the others in the order they were admitted: a long prompt (or a stream of them) never keeps a
        // short one waiting for all of its rows.
        prefilling.removeAll(keepingCapacity: true)
        for slot in slots where slot.job != nil && slot.isPrefilling { prefilling.append(slot) }
        prefilling.sort { $0.job!.admittedAt < $1.job!.admittedAt }
        prefillRows.removeAll(keepingCapacity: true)
        if !prefilling.isEmpty && budget > 0 {
            let share = max(1, budget / prefilling.count)
            for slot in prefilling {
                let n = min(share, budget, slot.job!.request.prompt.count - slot.fed.count)
                prefillRows.append(n)
                budget -= n
            }
            for (i, slot) in prefilling.enumerated() where budget > 0 {
                let more = min(budget, slot.job!.request.prompt.count - slot.fed.count - prefillRows[i])
                prefillRows[i] += more
                budget -= more
            }
        }
        for (i, slot) in prefilling.enumerated() where i < prefillRows.count && prefillRows[i] > 0 {
            let prompt = slot.job!.request.prompt
            let n = prefillRows[i]
            let first = workspace.append(prompt[slot.fed.count..<slot.fed.count + n], of: slot.cache,
                                         adapter: slot.job!.request.adapter)
            slot.fed.append(contentsOf: prompt[slot.fed.count..<slot.fed.count + n])
            fed.append((slot, n, first))
        }
        guard !fed.isEmpty else { return }
        let t0 = monotonicNanoseconds()
        model.network.forward(workspace)
        var produced = 0, prompted = 0, drafted = 0
        for (slot, rows, first) in fed {
            if slot.job!.request.promptLogprobs && slot.fed.count - rows < slot.job!.request.prompt.count {
                collectPromptLogprobs(slot, rows: rows, first: first)
            }
            if slot.isPrefilling { prompted += rows; continue }
            if slot.state == nil {
                prompted += rows
            } else if !slot.guesses.isEmpty {
                // Every row of a slot that guessed: each one's logits check the next guess.
                drafted += slot.guesses.count
                for r in 0..<rows {
                    logitRows.append(first + r)
                    logitOwners.append((slot, r))
                }
                continue
            }
            logitRows.append(first + rows - 1)
            logitOwners.append((slot, -1))
        }
        // The rows that sample, through the output matrix together.
        var k = 0, accepted = 0
        while k < logitRows.count {
            let n = min(workspace.logitRows, logitRows.count - k)
            logitRows.withUnsafeBufferPointer { model.network.project(workspace, rows: UnsafeBufferPointer(rebasing: $0[k..<k + n])) }
            for j in k..<k + n {
                let (slot, row) = logitOwners[j]
                let logits = UnsafeBufferPointer(start: workspace.logits + (j - k) * model.config.vocabSize,
                                                 count: model.config.vocabSize)
                if row < 0 {
                    if advance(slot, logits) { produced += 1 }
                } else if let done = check(slot, row: row, logits) {
                    produced += done.produced
                    accepted += done.accepted
                }
            }
            k += n
        }
        let seconds = Double(monotonicNanoseconds() - t0) / 1e9
        lock.withLock {
            stats.steps += 1
            stats.busySeconds += seconds
            stats.generatedTokens += produced
            stats.promptTokens += prompted
            stats.draftedTokens += drafted
            stats.acceptedTokens += accepted
        }
    }

    /// The draft model's guesses for every decoding slot, made before the step's rows are laid out: each
    /// slot may have an equal share of the rows the step leaves after one row per slot.
    private func prepareDrafts(_ drafter: BatchDrafter, rows: Int, decoding: Int) {
        draftWork.removeAll(keepingCapacity: true)
        let share = rows / decoding - 1
        for slot in slots where slot.job != nil && slot.pendingToken != nil {
            let limit = min(share, drafter.maxDraft, slot.guessLength, slot.cache.capacity - slot.cache.count - 1,
                            slot.job!.request.maxNewTokens - (slot.state?.tokens.count ?? 0) - 1)
            guard limit > 0, let state = slot.state else { continue }
            draftWork.append(.init(slot: slot.index, fed: slot.fed, next: slot.pendingToken!, state: state, limit: limit))
        }
        drafter.draft(draftWork)
    }

    /// Row `row` of a slot that guessed: its choice there (what it would choose one pass at a time)
    /// is reported; while it equals the guess the next row goes on. At the first other choice, or the
    /// end, the cache is cut back to the fed token and the confirmed guesses, and that choice is fed
    /// next. Nil once the slot has settled this step (its later rows are ignored).
    private func check(_ slot: BatchSlot, row: Int, _ logits: UnsafeBufferPointer<Float>) -> (produced: Int, accepted: Int)? {
        guard let job = slot.job, row == slot.matched, !slot.guesses.isEmpty || row == 0 else { return nil }
        func settle() {
            let keep = slot.kept + slot.matched
            slot.cache.truncate(to: keep)
            slot.fed.removeLast(slot.fed.count - keep)
            slot.guessLength = slot.matched == slot.guesses.count
                ? min(options.lookup?.maxDraft ?? drafter?.maxDraft ?? 1, max(1, slot.guessLength * 2)) : max(1, slot.matched + 1)
            slot.guesses.removeAll(keepingCapacity: true)
        }
        // A draft model's guesses were drawn: speculative sampling's check. Prompt lookup's: the slot's own choice.
        let choice = drafter != nil && row < slot.guesses.count
            ? slot.state!.next(logits, checking: slot.guesses[row], proposal: drafter!.proposals[slot.index][row])
            : slot.state!.next(logits)
        guard let token = choice else {
            settle()
            finish(slot, slot.state!.stopReason ?? .stopToken)
            return (0, 0)
        }
        var lp: [TokenLogprob] = []
        if let n = job.request.logprobs { lp = [logprob(of: token, in: logits, top: n)] }
        job.continuation.yield(.text(slot.state!.newText(), tokens: [token], logprobs: lp))
        let confirmed = row < slot.guesses.count && token == slot.guesses[row]
        if confirmed { slot.matched += 1 }
        if slot.state!.isFinished {
            settle()
            finish(slot, slot.state!.stopReason!)
            return (1, confirmed ? 1 : 0)
        }
        guard !confirmed else { return (1, 1) }
        settle()
        if slot.cache.count >= slot.cache.capacity {
            slot.state!.stop(.contextFull)
            finish(slot, .contextFull)
        } else {
            slot.pendingToken = token
        }
        return (1, 0)
    }

    /// Samples a slot's next token from its logits and reports it; true if a token was produced.
    private func advance(_ slot: BatchSlot, _ logits: UnsafeBufferPointer<Float>) -> Bool {
        guard let job = slot.job else { return false }
        if slot.state == nil {
            slot.beginGeneration(model: model)
            job.firstTokenAt = monotonicNanoseconds()
        }
        guard let token = slot.state!.next(logits) else {
            finish(slot, slot.state!.stopReason ?? .stopToken)
            return false
        }
        var lp: [TokenLogprob] = []
        if let n = job.request.logprobs { lp = [logprob(of: token, in: logits, top: n)] }
        let text = slot.state!.newText()
        job.continuation.yield(.text(text, tokens: [token], logprobs: lp))
        if slot.state!.isFinished {
            finish(slot, slot.state!.stopReason!)
        } else if slot.cache.count >= slot.cache.capacity {
            slot.state!.stop(.contextFull)
            finish(slot, .contextFull)
        } else {
            slot.pendingToken = token
        }
        return true
    }

    private func collectPromptLogprobs(_ slot: BatchSlot, rows: Int, first: Int) {
        let prompt = slot.job!.request.prompt
        let start = slot.fed.count - rows  // prompt index of the first row
        var r = 0
        while r < rows {
            let n = min(workspace.logitRows, rows - r)
            model.network.project(workspace, rowsFrom: first + r, count: n)
            for i in 0..<n {
                let next = start + r + i + 1  // the prompt token this row predicts
                guard next < prompt.count else { continue }
                let logits = UnsafeBufferPointer(start: workspace.logits + i * model.config.vocabSize,
                                                 count: model.config.vocabSize)
                slot.promptLogprobs.append(logprob(of: prompt[next], in: logits, top: slot.job!.request.logprobs ?? 0))
            }
            r += n
        }
    }

    private func logprob(of token: Int32, in logits: UnsafeBufferPointer<Float>, top n: Int) -> TokenLogprob {
        LogProb.all(logits, into: &logprobScratch)
        var top: [(token: Int32, logprob: Double)] = []
        if n > 0 {
            for (i, v) in logprobScratch.enumerated() where top.count < n || v > top[top.count - 1].logprob {
                let entry = (token: Int32(i), logprob: v)
                let at = top.firstIndex { v > $0.logprob } ?? top.count
                top.insert(entry, at: at)
                if top.count > n { top.removeLast() }
            }
        }
        return TokenLogprob(token: token, logprob: logprobScratch[Int(token)], top: top)
    }

    private func finish(_ slot: BatchSlot, _ reason: StopReason) {
        guard let job = slot.job else { return }
        var reason = reason
        if var state = slot.state {
            state.stop(reason)
            reason = state.stopReason ?? reason
            let rest = state.finalText()
            if !rest.isEmpty { job.continuation.yield(.text(rest, tokens: [], logprobs: [])) }
        }
        job.finish(reason, promptTokens: job.request.prompt.count, cached: slot.reused,
                   completion: slot.state?.tokens.count ?? 0, promptLogprobs: slot.promptLogprobs)
        slot.release()
        lock.withLock {
            stats.active -= 1
            lock.broadcast()
        }
    }
}
