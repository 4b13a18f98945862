import DollyKit
import Foundation

extension BenchCommand {
    /// `dolly bench --json-schema/--grammar/--json`: the constraint's cost per token. Generates -r
    /// answers of up to -n tokens (temperature 1, seeds 1...r) under the grammar, each followed by an
    /// unconstrained generation of as many tokens (alternating, for the tg ratio), then replays the
    /// constrained answers on a fresh constraint timing each step's mask, and once more warm.
    func runGrammarBench(_ source: () throws -> CompiledGrammar?) throws {
        let t0 = DispatchTime.now().uptimeNanoseconds
        guard let grammar = try source() else { return }
        let compile = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
        let model = try DollyModel.load(path: self.model)
        let t1 = DispatchTime.now().uptimeNanoseconds
        let vocabulary = TokenVocabulary(tokenizer: model.tokenizer)
        let trie = Double(DispatchTime.now().uptimeNanoseconds - t1) / 1e6
        let constraint = try GrammarConstraint(grammar: grammar, vocabulary: vocabulary)
        let t2 = DispatchTime.now().uptimeNanoseconds
        let partitioned = constraint.prepareRuns()
        let partitions = Double(DispatchTime.now().uptimeNanoseconds - t2) / 1e6
        let session = try model.network.makeSession(contextLength: min(2048, model.config.maxPositionEmbeddings), threads: threads.count)
        let prompt = "Answer in JSON: describe a person, their pets and a plan for the week."
        var sequences: [[Int32]] = []
        var finished = 0
        var constrainedRates: [Double] = [], freeRates: [Double] = []
        for r in 1...repetitions {
            let request = GenerationRequest(text: prompt, maxNewTokens: generatedTokens,
                                            sampling: SamplingParameters(seed: UInt64(r), constraint: constraint))
            let result = try model.generate(request, session: session) { _ in true }
            sequences.append(result.tokens)
            if result.stopReason == .stopToken { finished += 1 }
            constrainedRates.append(Double(result.tokens.count) / max(result.generationSeconds, 1e-9))
            // The same number of tokens without the constraint (a stop token is unlikely to end it early).
            let free = try model.generate(GenerationRequest(text: prompt, maxNewTokens: max(1, result.tokens.count),
                                                            sampling: SamplingParameters(seed: UInt64(r))),
                                          session: session) { _ in true }
            freeRates.append(Double(free.tokens.count) / max(free.generationSeconds, 1e-9))
        }
        let replay = try GrammarBenchmark.replay(grammar: grammar, vocabulary: vocabulary, sequences: sequences,
                                                 budget: generatedTokens)
        let cold = replay.maskMicroseconds, warm = replay.warmMaskMicroseconds
        func p(_ s: [Double], _ q: Double) -> Double { GrammarBenchmark.Result.percentile(s, q) }
        let withGrammar = p(constrainedRates, 50), without = p(freeRates, 50)
        Console.write(String(format: """
            grammar compile: %.2f ms; vocabulary trie: %.1f ms (once per tokenizer); class partitions: %d in %.1f ms (once per tokenizer and class); bind: %.2f ms
            %d generations (%d ended by the grammar/stop token), %d masks at vocabulary %d
            mask µs, fresh constraint: median %.1f, p90 %.1f, p99 %.1f, max %.1f, mean %.1f
            mask µs, warm (seen before): median %.1f, p90 %.1f, p99 %.1f, max %.1f, mean %.1f
            generation tok/s, median of %d alternating runs: %.2f with the grammar, %.2f without (ratio %.3f)

            """, compile, trie, partitioned, partitions, replay.bindMicroseconds / 1e3, sequences.count, finished, cold.count, vocabulary.size,
            p(cold, 50), p(cold, 90), p(cold, 99), cold.max() ?? 0, cold.reduce(0, +) / Double(max(cold.count, 1)),
            p(warm, 50), p(warm, 90), p(warm, 99), warm.max() ?? 0, warm.reduce(0, +) / Double(max(warm.count, 1)),
            repetitions, withGrammar, without, withGrammar / max(without, 1e-9)))
    }
}
