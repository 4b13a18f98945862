import ArgumentParser
import DollyKit
import Foundation

/// `-t/--threads`, for every command that runs kernels.
struct ThreadOptions: ParsableArguments {
    @Option(name: [.customShort("t"), .long], help: "Threads the model runs on (default: the machine's physical cores; OMP_NUM_THREADS does not change it).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 || threads > 1024 {
            throw ValidationError("--threads must be between 1 and 1024")
        }
    }

    /// The thread count to hand to whatever runs the model (a session, the batch engine, the converter).
    var count: Int { threads ?? DollyModel.defaultThreads }
}

/// `--model`: where the model comes from, spelled once for every command that loads one.
struct ModelPathOption: ParsableArguments {
    @Option(name: .long, help: "A .dolly file, or a Hugging Face Dolly folder (config.json, tokenizer.json, weights).")
    var model: String
}

/// Which model to load, with how many threads, and the session's size and cache type.
struct ModelOptions: ParsableArguments {
    @OptionGroup var path: ModelPathOption
    var model: String { path.model }

    @OptionGroup var threads: ThreadOptions

    @Option(name: .long, help: "Context length in tokens (default: 2048 or the model's maximum, if smaller).")
    var context: Int?

    @OptionGroup var cache: CacheOptions

    @OptionGroup var lora: LoRAOptions

    func validate() throws {
        if let context, context < 1 {
            throw ValidationError("--context must be positive")
        }
    }

    /// Loads the model and makes a session for it.
    func load(defaultContext: Int? = nil) throws -> (DollyModel, InferenceSession) {
        let model = try DollyModel.load(path: self.model)
        let session = try model.network.makeSession(
            contextLength: context ?? defaultContext.map { min($0, model.config.maxPositionEmbeddings) },
            kvType: cache.kv, threads: threads.count)
        if let warning = model.memoryWarning(kvCacheBytes: session.kvCacheBytes) { Console.note("dolly: warning: \(warning)") }
        try lora.attach(to: session, model: model)
        return (model, session)
    }
}

/// The KV cache type, shared by the commands that make a session and by `bench`.
struct CacheOptions: ParsableArguments {
    @Option(name: .long, help: "KV cache element type: f16 (default), f32, or q8 (int8 with a scale per head row: about half of f16's memory).",
            transform: { text in
                guard let type = KVCacheType(rawValue: text) else { throw ValidationError("--kv must be f16, f32 or q8") }
                return type
            })
    var kv: KVCacheType = .f16
}

/// The logits processors, which change greedy decoding too (so `compare` takes them as well).
struct ProcessorOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Divide the logit of every id already in prompt or output by R (multiply if negative), as transformers' repetition_penalty (1: off).",
        valueName: "R"))
    var repetitionPenalty: Float = 1

    @Option(name: .customLong("no-repeat-ngram"), help: ArgumentHelp(
        "Never repeat an n-gram of this size from prompt or output, as transformers' no_repeat_ngram_size (0: off).",
        valueName: "N"))
    var noRepeatNgram = 0

    @Option(name: .long, help: ArgumentHelp(
        "Lower the logit of every id by F times its count in the output so far, as OpenAI's frequency_penalty (0: off).",
        valueName: "F"))
    var frequencyPenalty: Float = 0

    @Option(name: .long, help: ArgumentHelp(
        "Lower the logit of every id already in the output by P, as OpenAI's presence_penalty (0: off).",
        valueName: "P"))
    var presencePenalty: Float = 0

    func validate() throws {
        try SamplingOptions.check(applied(to: SamplingParameters()))
    }

    /// `base` with these processors on.
    func applied(to base: SamplingParameters) -> SamplingParameters {
        var p = base
        p.repetitionPenalty = repetitionPenalty
        p.noRepeatNgramSize = noRepeatNgram
        p.frequencyPenalty = frequencyPenalty
        p.presencePenalty = presencePenalty
        return p
    }
}

/// How tokens are chosen and when generation stops; defaults are Dolly's pipeline's.
struct SamplingOptions: ParsableArguments {
    @Flag(name: .long, help: "Always take the most likely token.")
    var greedy = false

    @Option(name: .long, help: "Most tokens to generate.")
    var maxTokens = 256

    @Option(name: .long, help: "Seed of the sampler (default: random).")
    var seed: UInt64?

    @Option(name: .long, help: "Softmax temperature (0: greedy).")
    var temperature: Float = 1.0

    @Option(name: .long, help: "Nucleus sampling threshold.")
    var topP: Float = 0.92

    @Option(name: .long, help: "Keep only the K most likely tokens (0: all).")
    var topK = 0

    @Option(name: .long, help: ArgumentHelp("Keep only tokens at least P times as likely as the most likely one, applied after top-p (0: off).",
                                            valueName: "P"))
    var minP: Float = 0

    @OptionGroup var processors: ProcessorOptions

    @Option(name: .customLong("stop"), help: ArgumentHelp(
        "End the answer where the text would contain TEXT (not printed, nor anything after it); repeatable.", valueName: "TEXT"))
    var stopTexts: [String] = []

    func validate() throws {
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1") }
        guard !stopTexts.contains("") else { throw ValidationError("--stop needs a non-empty text") }
        try Self.check(parameters)
    }

    /// The library's range check (SamplingParameters.outOfRange), reported with this command's flag.
    static func check(_ p: SamplingParameters) throws {
        guard let bad = p.outOfRange else { return }
        let flag: String
        switch bad.field {
        case .temperature: flag = "--temperature"
        case .topP: flag = "--top-p"
        case .topK: flag = "--top-k"
        case .minP: flag = "--min-p"
        case .repetitionPenalty: flag = "--repetition-penalty"
        case .noRepeatNgramSize: flag = "--no-repeat-ngram"
        case .frequencyPenalty: flag = "--frequency-penalty"
        case .presencePenalty: flag = "--presence-penalty"
        case .logitBias: flag = "logit_bias"  // the library's and the server's; the CLI has no flag for it
        }
        throw ValidationError("\(flag) \(bad.requirement)")
    }

    var parameters: SamplingParameters {
        processors.applied(to: SamplingParameters(greedy: greedy, temperature: temperature, topP: topP, topK: topK,
                                                  minP: minP, seed: seed))
    }

    func request(_ text: String, context: String? = nil, raw: Bool = false) -> GenerationRequest {
        GenerationRequest(text: text, context: context, raw: raw, maxNewTokens: maxTokens, sampling: parameters,
                          stopTexts: stopTexts)
    }
}

/// Speculative decoding: guesses checked in one pass, the output unchanged (`run`, `chat`).
struct SpeculationOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Prompt lookup: guess up to N tokens per step from earlier text (the prompt, the answer) and check them in one pass; the output is the same, made in fewer passes when the answer copies its context (0: off).",
        valueName: "N"))
    var lookup = 0

    @Option(name: .customLong("lookup-ngram-min"), help: "Shortest run of last tokens looked up for --lookup.")
    var lookupNgramMin = 2

    @Option(name: .customLong("lookup-ngram-max"), help: "Longest run of last tokens looked up for --lookup.")
    var lookupNgramMax = 4

    @Option(name: .long, help: ArgumentHelp(
        "A smaller model with the same tokenizer (e.g. dolly-v2-3b for 12b) that guesses the next tokens; the model checks them in one pass and the output is the same.",
        valueName: "FILE"))
    var draft: String?

    @Option(name: .customLong("draft-max"), help: "Most tokens the --draft model guesses per pass.")
    var draftMax = 4

    @Flag(name: .customLong("jump-forward"), help: "With a grammar or schema: guess the tokens it forces (keys, punctuation) and check them in one pass; the output is the same.")
    var jumpForward = false

    func validate() throws {
        guard (0...64).contains(lookup) else { throw ValidationError("--lookup must be between 0 and 64") }
        guard lookupNgramMin >= 1, lookupNgramMax >= lookupNgramMin, lookupNgramMax <= 64 else {
            throw ValidationError("--lookup-ngram-min must be at least 1 and at most --lookup-ngram-max (at most 64)")
        }
        guard (1...64).contains(draftMax) else { throw ValidationError("--draft-max must be between 1 and 64") }
        if draft != nil && lookup > 0 { throw ValidationError("--draft and --lookup are two sources of guesses: give one") }
        if let draft, !FileManager.default.fileExists(atPath: draft) {
            throw ValidationError("--draft: no such file or folder: \(draft)")
        }
    }

    func apply(to request: inout GenerationRequest) {
        request.jumpForward = jumpForward
        if lookup > 0 { request.lookup = PromptLookup(maxDraft: lookup, ngramMin: lookupNgramMin, ngramMax: lookupNgramMax) }
    }

    /// The --draft model beside `model`, with a cache as long as `session`'s; nil without --draft.
    func loadDraft(for model: DollyModel, session: InferenceSession) throws -> DraftModel? {
        guard let draft else { return nil }
        let small = try DollyModel.load(path: draft)
        return try DraftModel(model: small, target: model, contextLength: session.contextLength, maxDraft: draftMax,
                              kvType: session.kvType, threads: session.threads)
    }
}

/// Context for an instruction: `--input TEXT` or `--input-file PATH`.
struct ContextOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Context for the instruction (a passage to answer from, summarise or extract from), given to Dolly as \"Input:\".",
                                            valueName: "TEXT"))
    var input: String?

    @Option(name: .long, help: ArgumentHelp("Read the context from a UTF-8 file.", valueName: "PATH"))
    var inputFile: String?

    func validate() throws {
        if input != nil && inputFile != nil { throw ValidationError("give --input or --input-file, not both") }
    }

    /// The context, read now; nil when neither option is given.
    func read() throws -> String? {
        if let inputFile { return try TextFile.read(inputFile, what: "--input-file") }
        return input
    }
}
