import DollyKit

/// How `dolly serve` runs: the command's options, validated by the CLI.
public struct ServerConfiguration: Sendable {
    public var modelPath: String
    public var host: String
    /// 0 picks a free port (tests).
    public var port: Int
    public var parallel: Int
    /// Tokens per slot (prompt plus answer).
    public var context: Int?
    public var kvType: KVCacheType
    public var threads: Int
    /// With a key, every endpoint but /health and the chat page needs `Authorization: Bearer KEY`.
    public var apiKey: String?
    public var maxQueue: Int
    /// With an origin, CORS headers for it (browsers calling from that page).
    public var corsOrigin: String?
    /// Largest request body accepted.
    public var bodyLimit: Int
    /// Seconds in-flight requests get to finish after SIGINT / SIGTERM.
    public var shutdownGrace: Double
    /// Reuse a slot's cached prompt prefix.
    public var prefixCache: Bool
    /// How a `.dolly` model file is held: .read (default) copies it into memory, so truncating or
    /// rewriting the file cannot reach a running server; .map uses it in place (faster start, memory
    /// shared with the page cache; a truncation then stops the server with one line).
    public var modelFileMode: MappedFile.Mode = .read
    /// Prompt lookup for every request (`serve --lookup N`): the same answers in fewer passes when
    /// they copy their prompts; nil: off.
    public var lookup: PromptLookup?
    /// A draft model's file or folder for every request (`serve --draft FILE`): each slot's guesses come
    /// from it; greedy answers are the same, sampled ones follow the same distribution. Nil: off.
    public var draftPath: String?
    /// Most tokens the draft guesses per step and slot (`--draft-max`).
    public var draftMax: Int = 4
    /// Most rows per forward pass (`--batch-rows`): decoding tokens first, then chunks of waiting
    /// prompts. A long prompt is taken in chunks of what the decoding slots leave, so this bounds the
    /// pause it causes in the other streams.
    public var batchRows: Int = 64
    /// Serve the chat page (ChatPage) at GET /.
    public var webUI: Bool = true
    /// Run-time LoRA adapters loaded at start (`serve --lora name=FILE`): a request picks one by the
    /// model name `<model>+<name>`; more come and go with POST / DELETE /adapters.
    public var adapters: [AdapterSpec] = []

    public struct AdapterSpec: Sendable, Equatable {
        public var name: String
        public var path: String
        public init(name: String, path: String) {
            self.name = name
            self.path = path
        }
    }

    public init(modelPath: String, host: String = "127.0.0.1", port: Int = 8080, parallel: Int = 4, context: Int? = nil,
                kvType: KVCacheType = .f16, threads: Int = DollyModel.defaultThreads, apiKey: String? = nil,
                maxQueue: Int = 64, corsOrigin: String? = nil, bodyLimit: Int = 1 << 20, shutdownGrace: Double = 10,
                prefixCache: Bool = true) {
        self.modelPath = modelPath
        self.host = host
        self.port = port
        self.parallel = parallel
        self.context = context
        self.kvType = kvType
        self.threads = threads
        self.apiKey = apiKey
        self.maxQueue = maxQueue
        self.corsOrigin = corsOrigin
        self.bodyLimit = bodyLimit
        self.shutdownGrace = shutdownGrace
        self.prefixCache = prefixCache
    }

    /// The name /v1/models reports: the file or folder name without extension.
    var modelName: String {
        let last = modelPath.split(separator: "/").last.map(String.init) ?? modelPath
        return last.hasSuffix(".dolly") ? String(last.dropLast(6)) : last
    }
}
