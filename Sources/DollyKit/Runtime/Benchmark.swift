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
    /// attention over a long context is part of what is measured. One untimed warm-up precedes each test.
    public func benchmark(promptTokens: Int, generatedTokens: Int, repetitions: Int, depth: Int = 0,
                          kvType: KVCacheType = .f16, threads: Int = DollyModel.defaultThreads,
                          adapter: LoRAAdapter? = nil, adapterScale: Float = 1) throws -> [BenchmarkResult] {
        var rng = SeededGenerator(seed: 42)
        let vocab = UInt64(config.vocabSize)
        func randomTokens(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(rng.next() % vocab) } }
        let context = depth + max(promptTokens, generatedTokens, 1)
        let session = try network.makeSession(contextLength: context, batchSize: min(max(promptTokens, depth, 1), 512),
                                              kvType: kvType, threads: threads)
        session.adapter = adapter  // (every pass applies it, as `run --lora` does)
        session.adapterScale = adapterScale
        if depth > 0 { try session.evaluate(randomTokens(depth)) }
        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let t0 = monotonicNanoseconds()
            try body()
            return Double(monotonicNanoseconds() - t0) / 1e9
        }
        var results: [BenchmarkResult] = []
        if promptTokens > 0 {
            let prompt = randomTokens(promptTokens)
            var r = BenchmarkResult(name: "pp\(promptTokens)", promptTokens: promptTokens, generatedTokens: 0, samples: [])
            for i in 0...repetitions {
                session.rewind(to: depth)
                let t = try seconds { try session.evaluate(prompt) }
                if i > 0 { r.samples.append(Double(promptTokens) / t) }
            }
            results.append(r)
        }
        if generatedTokens > 0 {
            let tokens = randomTokens(generatedTokens)
            var r = BenchmarkResult(name: "tg\(generatedTokens)", promptTokens: 0, generatedTokens: generatedTokens, samples: [])
            for i in 0...repetitions {
                session.rewind(to: depth)
                var single: [Int32] = [0]
                let t = try seconds {
                    for tok in tokens {
                        single[0] = tok
                        try session.evaluate(single)
                    }
                }
                if i > 0 { r.samples.append(Double(generatedTokens) / t) }
            }
            results.append(r)
        }
        return results
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
