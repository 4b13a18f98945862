import ArgumentParser
import DollyKit
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prompt processing and generation speed, like llama-bench.")

    @OptionGroup var path: ModelPathOption
    var model: String { path.model }

    @Option(name: .customShort("p"), help: "Prompt tokens to process (0 skips the test).")
    var promptTokens = 512

    @Option(name: .customShort("n"), help: "Tokens to generate (0 skips the test).")
    var generatedTokens = 128

    @OptionGroup var threads: ThreadOptions

    @Option(name: .customShort("d"), help: "Tokens already in the KV cache when each test starts (llama-bench's -d).")
    var depth = 0

    @OptionGroup var cache: CacheOptions

    @OptionGroup var lora: LoRAOptions

    @Option(name: .long,
            help: "Streams at once, as serve --parallel N runs its slots: N prompts in one pass (pp), N tokens per step (tg), each stream on its own cache and on the --lora adapters in turn (repeat --lora for one per stream).")
    var parallel = 1

    @Option(name: .customShort("r"), help: "Repetitions of each test.")
    var repetitions = 5

    @Flag(name: .customLong("lora-vs-base"),
          help: "With --lora: run every repetition on the base alone and then with the adapter, and print the adapter's cost as a ratio.")
    var loraVsBase = false

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case md, json
    }

    @Option(name: .customShort("o"), help: "Output format: md or json.")
    var output = OutputFormat.md

    @Option(name: .customLong("tokenizer"), parsing: .upToNextOption,
            help: ArgumentHelp("Instead of the model, time tokenizing each text file (-r times, each with a fresh tokenizer).",
                               valueName: "FILE"))
    var tokenizerFiles: [String] = []

    @OptionGroup(title: "Constraint (measure the grammar's cost per token instead)") var constraint: ConstraintOptions

    func validate() throws {
        guard promptTokens >= 0, generatedTokens >= 0, promptTokens + generatedTokens > 0 else {
            throw ValidationError("-p and -n must be >= 0 and not both 0")
        }
        guard depth >= 0 else { throw ValidationError("-d must be >= 0") }
        guard repetitions >= 1 else { throw ValidationError("-r must be at least 1") }
        guard !loraVsBase || lora.file != nil else { throw ValidationError("--lora-vs-base needs --lora FILE") }
        guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1") }
        guard parallel > 1 || lora.lora.count <= 1 else { throw ValidationError("several --lora need --parallel N (one adapter per stream)") }
    }

    func run() throws {
        if !tokenizerFiles.isEmpty {
            return try Console.guarded {
                let results = try TokenizerBench.run(modelPath: model, files: tokenizerFiles, repetitions: repetitions)
                Console.write(output == .json ? try TokenizerBench.json(results) : TokenizerBench.markdown(results))
            }
        }
        try Console.guarded {
            if constraint.grammar != nil || constraint.jsonSchema != nil || constraint.json {
                return try runGrammarBench { try constraint.compile() }
            }
            let n = threads.count
            let m = try DollyModel.load(path: model)
            let adapters = try lora.lora.map { try LoRAAdapter(path: $0, model: m.network) }
            let adapter = adapters.first
            let results = parallel > 1
                ? try m.benchmarkStreams(parallel, promptTokens: promptTokens, generatedTokens: generatedTokens, repetitions: repetitions,
                                         depth: depth, kvType: cache.kv, threads: n, adapters: adapters, adapterScale: lora.loraScale,
                                         alternateWithBase: loraVsBase)
                : try m.benchmark(promptTokens: promptTokens, generatedTokens: generatedTokens, repetitions: repetitions,
                                  depth: depth, kvType: cache.kv, threads: n, adapter: adapter, adapterScale: lora.loraScale,
                                  alternateWithBase: loraVsBase)
            let rss = ProcessStats.peakResidentBytes
            let kernel = DollyModel.kernelName
            let name = URL(fileURLWithPath: model).lastPathComponent
            if output == .json {
                let objects: [[String: Any]] = results.map { r in
                    ["model_filename": model, "model_size": m.network.weights.weightBytes, "model_n_params": m.network.weights.parameterCount,
                     "n_threads": n, "n_prompt": r.promptTokens, "n_gen": r.generatedTokens,
                     "avg_ts": r.mean, "stddev_ts": r.standardDeviation, "samples_ts": r.samples,
                     "n_depth": depth, "n_parallel": parallel, "type_k": cache.kv.rawValue, "type_v": cache.kv.rawValue, "peak_rss_bytes": rss, "kernel": kernel,
                     "lora": r.withAdapter ? lora.lora.joined(separator: ",") : "",
                     "lora_rank": r.withAdapter ? adapters.map(\.maxRank).max() ?? 0 : 0]
                }
                let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
                Console.write(String(decoding: data, as: UTF8.self) + "\n")
            } else {
                var out = "| model | size | params | kernel | threads | kv | test | t/s |\n"
                out += "| --- | ---: | ---: | --- | ---: | --- | ---: | ---: |\n"
                for r in results {
                    let loraName = adapters.count > 1 ? " +\(adapters.count) loras r\(adapters.map(\.maxRank).max()!)"
                        : adapter.map { " +lora r\($0.maxRank)" } ?? ""
                    let test = (depth > 0 ? "\(r.name) @ d\(depth)" : r.name) + (r.withAdapter ? loraName : "")
                    out += String(format: "| %@ | %.2f GiB | %.2f M | %@ | %d | %@ | %@ | %.2f ± %.2f |\n", name,
                                  Double(m.network.weights.weightBytes) / 1_073_741_824, Double(m.network.weights.parameterCount) / 1e6, kernel, n, cache.kv.rawValue, test,
                                  r.mean, r.standardDeviation)
                }
                for ratio in DollyModel.adapterRatios(results) {
                    out += String(format: "\n%@ with the adapter%@ / the base alone: %.3f (ratio of means), %.3f (median of back-to-back pairs)",
                                  ratio.name, adapters.count > 1 ? "s" : "", ratio.ofMeans, ratio.medianOfPairs)
                }
                out += String(format: "\npeak RSS: %.1f MiB\n", Double(rss) / 1_048_576)
                Console.write(out)
            }
        }
    }
}
