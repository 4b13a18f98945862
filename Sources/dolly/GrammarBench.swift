import DollyKit
import Foundation

extension BenchCommand {
    /// `dolly bench --json-schema/--grammar/--json`: the constraint's cost per token. Generates -r
    /// answers of up to -n tokens (temperature 1, seeds 1...r) under the grammar, then replays them
    /// on a fresh constraint timing each step's mask, and prints compile time and mask percentiles.
    func runGrammarBench(_ source: () throws -> CompiledGrammar?) throws {
        let t0 = DispatchTime.now().uptimeNanoseconds
        guard let grammar = try source() else { return }
        let compile = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
        let model = try DollyModel.load(path: self.model)
        let t1 = DispatchTime.now().uptimeNanoseconds
        let vocabulary = TokenVocabulary(tokenizer: model.tokenizer)
        let trie = Double(DispatchTime.now().uptimeNanoseconds - t1) / 1e6
        let constraint = try GrammarConstraint(grammar: grammar, vocabulary: vocabulary)
        let session = try model.network.makeSession(contextLength: min(2048, model.config.maxPositionEmbeddings), threads: threads.count)
        var sequences: [[Int32]] = []
        var finished = 0
        for r in 1...repetitions {
            let request = GenerationRequest(text: "Answer in JSON: describe a person, their pets and a plan for the week.",
                                            maxNewTokens: generatedTokens,
                                            sampling: SamplingParameters(seed: UInt64(r), constraint: constraint))
            let result = try model.generate(request, session: session) { _ in true }
            sequences.append(result.tokens)
            if result.stopReason == .stopToken { finished += 1 }
        }
        let replay = try GrammarBenchmark.replay(grammar: grammar, vocabulary: vocabulary, sequences: sequences)
        let times = replay.maskMicroseconds
        Console.write(String(format: """
            grammar compile: %.2f ms; vocabulary trie: %.1f ms (once per tokenizer); bind: %.2f ms
            %d generations (%d ended by the grammar/stop token), %d masks at vocabulary %d
            mask µs: median %.1f, p90 %.1f, p99 %.1f, max %.1f, mean %.1f

            """, compile, trie, replay.bindMicroseconds / 1e3, sequences.count, finished, times.count, vocabulary.size,
            replay.percentile(50), replay.percentile(90), replay.percentile(99), times.max() ?? 0,
            times.reduce(0, +) / Double(max(times.count, 1))))
    }
}
