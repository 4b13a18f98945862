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

/// One llama-bench style test: prompt processing (`pp`) or token generation (`tg`).
public struct BenchmarkResult: Sendable {
    public var name: String
    public var promptTokens: Int
    public var generatedTokens: Int
    /// Tokens per second of each repetition.
    public var samples: [Double]
    /// Whether the passes applied the run-time adapter (false: the base alone).
    public var withAdapter = false

    public var mean: Double { samples.reduce(0, +) / Double(max(samples.count, 1)) }
    public var standardDeviation: Double {
        guard samples.count > 1 else { return 0 }
        let m = mean
        return (samples.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(samples.count - 1)).squareRoot()
    }
}

extension DollyModel {
    /// Measures like llama-bench: `pp` evaluates `promptTokens` random tokens as one prompt; `tg`
    /// generates `generatedTokens` tokens one at a time (the output layer runs for every token). Both
    /// start from a cache holding `depth` tokens (llama-bench's `-d`, filled once, untimed), so
    /// attention over a long context is part of what is measured. One untimed warm-up precedes each
    /// test. With an adapter and `alternateWithBase`, every repetition runs the test on the base alone
    /// and then with the adapter, in this one process: both see the same memory bandwidth, which on a
    /// shared machine drifts by more than an adapter costs between separate runs.
    public func benchmark(promptTokens: Int, generatedTokens: Int, repetitions: Int, depth: Int = 0,
                          kvType: KVCacheType = .f16, threads: Int = DollyModel.defaultThreads,
                          adapter: LoRAAdapter? = nil, adapterScale: Float = 1,
                          alternateWithBase: Bool = false) throws -> [BenchmarkResult] {
        var rng = SeededGenerator(seed: 42)
        let vocab = UInt64(config.vocabSize)
        func randomTokens(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(rng.next() % vocab) } }
        let context = depth + max(promptTokens, generatedTokens, 1)
        let session = try network.makeSession(contextLength: context, batchSize: min(max(promptTokens, depth, 1), 512),
                                              kvType: kvType, threads: threads)
        // Every pass of a mode applies its adapter, as `run --lora` does.
        let modes: [LoRAAdapter?] = alternateWithBase && adapter != nil ? [nil, adapter] : [adapter]
        session.adapter = adapter
        session.adapterScale = adapterScale
        if depth > 0 { try session.evaluate(randomTokens(depth)) }  // one cache prefix for every mode
        func measure(_ name: String, prompt: Int, generated: Int, _ pass: () throws -> Void) rethrows -> [BenchmarkResult] {
            try Self.alternating(name, prompt: prompt, generated: generated, tokens: prompt + generated,
                                 adapted: modes.map { $0 != nil }, repetitions: repetitions, prepare: { mode in
                session.adapter = modes[mode]
                session.rewind(to: depth)
            }, pass)
        }
        var results: [BenchmarkResult] = []
        if promptTokens > 0 {
            let prompt = randomTokens(promptTokens)
            results += try measure("pp\(promptTokens)", prompt: promptTokens, generated: 0) { try session.evaluate(prompt) }
        }
        if generatedTokens > 0 {
            let tokens = randomTokens(generatedTokens)
            var single: [Int32] = [0]
            results += try measure("tg\(generatedTokens)", prompt: 0, generated: generatedTokens) {
                for tok in tokens {
                    single[0] = tok
                    try session.evaluate(single)
                }
            }
        }
        return results
    }

    /// Runs one test 1 + repetitions times per mode (`adapted[i]`: whether mode i applies adapters),
    /// modes alternating, `prepare(mode)` untimed before each pass; the first round is the warm-up.
    /// Each sample is `tokens` over the pass's seconds.
    static func alternating(_ name: String, prompt: Int, generated: Int, tokens: Int, adapted: [Bool], repetitions: Int,
                            prepare: (Int) throws -> Void, _ pass: () throws -> Void) rethrows -> [BenchmarkResult] {
        var rs = adapted.map {
            BenchmarkResult(name: name, promptTokens: prompt, generatedTokens: generated, samples: [], withAdapter: $0)
        }
        for i in 0...repetitions {
            for mode in adapted.indices {
                try prepare(mode)
                let t0 = monotonicNanoseconds()
                try pass()
                let seconds = Double(monotonicNanoseconds() - t0) / 1e9
                if i > 0 { rs[mode].samples.append(Double(tokens) / seconds) }
            }
        }
        return rs
    }

    /// For each test run both ways: the adapter's tokens per second over the base's, as the ratio of
    /// the mean rates and as the median of the repetitions' ratios (each pair measured back to back).
    public static func adapterRatios(_ results: [BenchmarkResult]) -> [(name: String, ofMeans: Double, medianOfPairs: Double)] {
        results.filter { !$0.withAdapter }.compactMap { base in
            guard let with = results.first(where: { $0.withAdapter && $0.name == base.name }), !base.samples.isEmpty,
                  with.samples.count == base.samples.count else { return nil }
            let pairs = zip(with.samples, base.samples).map { $0 / $1 }.sorted()
            let n = pairs.count
            let median = n % 2 == 1 ? pairs[n / 2] : (pairs[n / 2 - 1] + pairs[n / 2]) / 2
            return (base.name, with.mean / base.mean, median)
        }
    }
}

public enum ProcessStats {
    /// Peak resident set size of this process so far, in bytes.
    public static var peakResidentBytes: Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }
}
