import ArgumentParser
import DollyKit
import DollyServer
import Foundation

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the model over OpenAI's and Ollama's HTTP APIs and a chat page, decoding concurrent requests together.",
        discussion: """
            Endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models (OpenAI's); POST /api/generate, \
            POST /api/chat, GET /api/tags, POST /api/show, GET /api/ps, GET /api/version (Ollama's); GET /health, \
            GET /metrics, POST /tokenize, POST /detokenize; and a chat page at GET / (open http://HOST:PORT/ in a \
            browser: it streams answers from /v1/chat/completions; it loads without --api-key's key, then asks for \
            it; --no-webui leaves it out). A chat history reuses the slot's cache of its earlier turns. --context is \
            per slot (prompt plus answer). Stops on SIGINT or SIGTERM, giving running requests 10 seconds to finish. \
            A .dolly model is read into memory at start (--no-mmap, the default), so the file can be replaced or \
            rewritten while the server runs; the new model is served after a restart.
            """)

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: "Address to listen on (default: loopback only).")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Port to listen on (0: any free port).")
    var port = 8080

    @Option(name: .long, help: "Requests decoded together, each with its own KV cache.")
    var parallel = 4

    @Option(name: .customLong("max-queue"), help: "Requests that may wait for a slot; beyond, 503 with Retry-After.")
    var maxQueue = 64

    @Option(name: .customLong("api-key"), help: "Require 'Authorization: Bearer KEY' on every endpoint but /health and the chat page.")
    var apiKey: String?

    @Option(name: .long, help: ArgumentHelp("Send CORS headers allowing this origin (e.g. http://localhost:3000).",
                                            valueName: "ORIGIN"))
    var cors: String?

    @Option(name: .long, help: ArgumentHelp(
        "Prompt lookup for every request: guess up to N tokens per step from the prompt and answer and check them in the same pass; the answers are the same, made in fewer passes when they copy their prompts (0: off).",
        valueName: "N"))
    var lookup = 0

    @Option(name: .long, help: ArgumentHelp(
        "A smaller model with the same tokenizer (dolly-v2-3b for 12b) that guesses each request's next tokens, every slot's in the same passes, checked in the model's pass: greedy answers are the same, sampled ones follow the same distribution, made in fewer passes of the model.",
        valueName: "FILE"))
    var draft: String?

    @Option(name: .customLong("draft-max"), help: "Most tokens the --draft model guesses per step and slot.")
    var draftMax = 4

    @Option(name: .customLong("batch-rows"), help: ArgumentHelp(
        "Most tokens per forward pass: the decoding streams' next tokens first, then chunks of waiting prompts. A long prompt is read in chunks of what the streams leave, so this bounds the pause it causes them (smaller: shorter pauses, slower prompt reading; llama-server's --ubatch-size).",
        valueName: "N"))
    var batchRows = 64

    @Flag(name: .customLong("no-prefix-cache"), help: "Recompute every prompt instead of reusing a slot's cached prefix.")
    var noPrefixCache = false

    @Flag(name: .customLong("no-webui"), help: "Do not serve the chat page at /.")
    var noWebUI = false

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(
        "Use a .dolly file in place (--mmap: faster start, memory shared with the page cache, but the file may then only be replaced by renaming a new one into place) or copy it into memory (--no-mmap, the default: the running server survives the file being truncated or rewritten)."))
    var mmap = false

    func validate() throws {
        guard (1...64).contains(parallel) else { throw ValidationError("--parallel must be between 1 and 64") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard maxQueue >= 0 else { throw ValidationError("--max-queue must be >= 0") }
        guard (0...32).contains(lookup) else { throw ValidationError("--lookup must be between 0 and 32") }
        guard (1...4096).contains(batchRows) else { throw ValidationError("--batch-rows must be between 1 and 4096") }
        guard (1...32).contains(draftMax) else { throw ValidationError("--draft-max must be between 1 and 32") }
        if draft != nil && lookup > 0 { throw ValidationError("--draft and --lookup are two sources of guesses: give one") }
        if let draft, !FileManager.default.fileExists(atPath: draft) {
            throw ValidationError("--draft: no such file or folder: \(draft)")
        }
        if let apiKey, apiKey.isEmpty { throw ValidationError("--api-key needs a non-empty key") }
        _ = try model.lora.named()
        guard FileManager.default.fileExists(atPath: model.model) else {
            throw ValidationError("--model: no such file or folder: \(model.model)")
        }
    }

    func run() async throws {
        let threads = model.threads.count
        var configuration = ServerConfiguration(
            modelPath: model.model, host: host, port: port, parallel: parallel, context: model.context,
            kvType: model.cache.kv, threads: threads, apiKey: apiKey, maxQueue: maxQueue, corsOrigin: cors,
            prefixCache: !noPrefixCache)
        configuration.modelFileMode = mmap ? .map : .read
        if lookup > 0 { configuration.lookup = PromptLookup(maxDraft: lookup) }
        configuration.draftPath = draft
        configuration.draftMax = draftMax
        configuration.batchRows = batchRows
        configuration.webUI = !noWebUI
        configuration.adapters = try model.lora.named().map { .init(name: $0.name, path: $0.path) }
        let server = DollyServer(configuration: configuration)
        let failed = LoadFailure()
        let host = self.host
        do {
            try await server.run(onReady: { port in
                Console.note("listening on http://\(host.contains(":") ? "[\(host)]" : host):\(port)")
            }, onLoadFailure: { error in
                failed.set(error)
                Task { await server.shutdown() }
            })
        } catch {
            Console.note("dolly: error: \(error)")
            throw ExitCode.failure
        }
        if let error = failed.error {
            try Console.guarded { throw error }
        }
    }
}

/// The model's load error, from the loading thread.
private final class LoadFailure: @unchecked Sendable {
    private let lock = NSLock()
    private var value: (any Error)?
    func set(_ e: any Error) { lock.withLock { value = e } }
    var error: (any Error)? { lock.withLock { value } }
}
