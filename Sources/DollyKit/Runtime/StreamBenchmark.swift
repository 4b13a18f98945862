extension DollyModel {
    /// `benchmark` for `streams` sequences at once, each on its own KV cache, as `dolly serve
    /// --parallel` runs its slots: `pp` evaluates every stream's prompt in one pass and projects each
    /// one's last row; `tg` runs steps of one token per stream, each step one pass with every stream's
    /// logits. Stream i runs with adapters[i % adapters.count] (none when empty), so several adapters
    /// share each step as they do in the server. Rates count every stream's tokens. With adapters and
    /// `alternateWithBase`, every repetition runs on the base alone and then with the adapters, back to
    /// back in this process (the server's own numbers on this VM drift between rounds by more than the
    /// adapters cost).
    public func benchmarkStreams(_ streams: Int, promptTokens: Int, generatedTokens: Int, repetitions: Int, depth: Int = 0,
                                 kvType: KVCacheType = .f16, threads: Int = DollyModel.defaultThreads,
                                 adapters: [LoRAAdapter] = [], adapterScale: Float = 1,
                                 alternateWithBase: Bool = false) throws -> [BenchmarkResult] {
        precondition(streams >= 1)
        var rng = SeededGenerator(seed: 42)
        let vocab = UInt64(config.vocabSize)
        func randomTokens(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(rng.next() % vocab) } }
        let context = depth + max(promptTokens, generatedTokens, 1)
        let caches = try (0..<streams).map { _ in try network.makeCache(capacity: context, type: kvType) }
        let ws = ForwardWorkspace(config: config, rows: streams * max(promptTokens, 1), context: context, threads: threads,
                                  logitRows: streams)
        let modes: [[LoRAAdapter]] = alternateWithBase && !adapters.isEmpty ? [[], adapters] : [adapters]
        var mode = modes.count - 1
        let lastRows = (0..<streams).map { $0 * max(promptTokens, 1) + max(promptTokens, 1) - 1 }
        let stepRows = Array(0..<streams)

        /// One pass: rows[i] tokens of stream i, on the current mode's adapters.
        func pass(_ rows: [ArraySlice<Int32>], logitsOf last: [Int]) {
            ws.clear()
            for (i, tokens) in rows.enumerated() where !tokens.isEmpty {
                let adapter = modes[mode].isEmpty ? nil : modes[mode][i % modes[mode].count]
                ws.append(tokens, of: caches[i], adapter: adapter, adapterScale: adapterScale)
            }
            network.forward(ws)
            last.withUnsafeBufferPointer { network.project(ws, rows: $0) }
        }
        // One cache prefix for every mode, filled untimed a workspace's worth at a time.
        let prefix = (0..<streams).map { _ in randomTokens(depth) }
        let chunk = max(promptTokens, 1)
        for start in stride(from: 0, to: depth, by: chunk) {
            let end = min(start + chunk, depth)
            pass(prefix.map { $0[start..<end] }, logitsOf: [])
        }
        func measure(_ name: String, prompt: Int, generated: Int, _ body: () -> Void) -> [BenchmarkResult] {
            Self.alternating(name + " x\(streams)", prompt: prompt, generated: generated, tokens: streams * (prompt + generated),
                             adapted: modes.map { !$0.isEmpty }, repetitions: repetitions, prepare: { m in
                mode = m
                for cache in caches { cache.truncate(to: depth) }
            }, body)
        }
        var results: [BenchmarkResult] = []
        if promptTokens > 0 {
            let prompts = (0..<streams).map { _ in randomTokens(promptTokens)[...] }
            results += measure("pp\(promptTokens)", prompt: promptTokens, generated: 0) { pass(prompts, logitsOf: lastRows) }
        }
        if generatedTokens > 0 {
            let steps = (0..<generatedTokens).map { _ in randomTokens(streams).map { [$0][...] } }
            results += measure("tg\(generatedTokens)", prompt: 0, generated: generatedTokens) {
                for step in steps { pass(step, logitsOf: stepRows) }
            }
        }
        return results
    }
}
