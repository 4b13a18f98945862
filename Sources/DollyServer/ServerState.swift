import DollyKit
import Foundation

/// The model and batching engine once loaded (nil while loading), and the server's counters.
final class ServerState: @unchecked Sendable {
    let configuration: ServerConfiguration
    let started = Int(Date().timeIntervalSince1970)
    private let lock = NSLock()
    private var loaded: (model: DollyModel, engine: BatchEngine)?
    /// Compiled grammars on the model's vocabulary, shared by every request (built on first use).
    private var grammarCache: GrammarCache?
    private var loadError: String?
    private var requestsByStatus: [Int: Int] = [:]
    /// Off-loop work in flight (`RequestWork`), cancelled together when a shutdown's grace ends.
    private var work: [ObjectIdentifier: StopFlag] = [:]
    private var workCancelled = false
    private var cancelledWork = 0

    /// Run-time adapters by name (AdapterRoutes adds and removes them).
    let adapters = AdapterRegistry()

    init(configuration: ServerConfiguration) { self.configuration = configuration }

    /// The adapter a request's model name picks: `<model>+<name>` names adapter `name` (the part before
    /// the last `+` is not checked, as plain model names are not); anything else, the base alone.
    /// Unknown adapter: 404 `model_not_found` (in the calling API's shape).
    func adapter(forModel model: String?) throws -> LoRAAdapter? {
        guard let model, let plus = model.lastIndex(of: "+") else { return nil }
        var name = String(model[model.index(after: plus)...])
        if name.hasSuffix(":latest") { name.removeLast(7) }  // Ollama's tag
        guard let adapter = adapters[name] else { throw APIError.modelNotFound(model) }
        return adapter
    }

    /// The names /v1/models and /api/tags list: the model, then `<model>+<adapter>` for each adapter.
    var modelNames: [String] {
        [configuration.modelName] + adapters.all.map { configuration.modelName + "+" + $0.name }
    }

    func setLoaded(model: DollyModel, engine: BatchEngine) {
        lock.withLock {
            loaded = (model, engine)
            grammarCache = GrammarCache(tokenizer: model.tokenizer)
        }
    }
    func setFailed(_ message: String) { lock.withLock { loadError = message } }

    var isReady: Bool { lock.withLock { loaded != nil } }
    var engineIfLoaded: BatchEngine? { lock.withLock { loaded?.engine } }

    /// The model and engine, or 503 while loading.
    func ready() throws -> (model: DollyModel, engine: BatchEngine) {
        try lock.withLock {
            guard let loaded else {
                throw APIError.busy(loadError.map { "the model failed to load: \($0)" } ?? "the model is loading", retryAfter: 2)
            }
            return loaded
        }
    }

    /// The grammar cache, or 503 while loading.
    func grammars() throws -> GrammarCache {
        _ = try ready()
        return lock.withLock { grammarCache! }
    }

    func track(_ flag: StopFlag) {
        let cancelNow = lock.withLock {
            if !workCancelled { work[ObjectIdentifier(flag)] = flag }
            return workCancelled
        }
        if cancelNow { flag.set() }
    }

    func countCancelledWork() { lock.withLock { cancelledWork += 1 } }

    func untrack(_ flag: StopFlag) { _ = lock.withLock { work.removeValue(forKey: ObjectIdentifier(flag)) } }

    /// Stops every running piece of off-loop work, and any started later.
    func cancelAllWork() {
        let flags = lock.withLock {
            workCancelled = true
            return Array(work.values)
        }
        for f in flags { f.set() }
    }

    func count(status: Int) { lock.withLock { requestsByStatus[status, default: 0] += 1 } }

    /// Prometheus text exposition of the counters and the engine's statistics.
    func metricsText() -> String {
        let (byStatus, engine, cancelled, working) = lock.withLock { (requestsByStatus, loaded?.engine, cancelledWork, work.count) }
        let s = engine?.statistics ?? BatchEngine.Statistics()
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, Double)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name)\(labels) \(formatted(value))\n" }
        }
        func formatted(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v) }
        metric("dolly_requests_total", "counter", "HTTP requests answered, by status code.",
               byStatus.sorted { $0.key < $1.key }.map { ("{status=\"\($0.key)\"}", Double($0.value)) })
        metric("dolly_tokenizations_active", "gauge", "Large inputs being tokenized or detokenized off the event loop.",
               [("", Double(working))])
        metric("dolly_tokenizations_cancelled_total", "counter",
               "Tokenizations of large inputs stopped because the client left or a shutdown's grace ended.",
               [("", Double(cancelled))])
        metric("dolly_prompt_tokens_total", "counter", "Prompt tokens run through the model.", [("", Double(s.promptTokens))])
        metric("dolly_prompt_tokens_cached_total", "counter", "Prompt tokens reused from a slot's cache.",
               [("", Double(s.cachedPromptTokens))])
        metric("dolly_generated_tokens_total", "counter", "Tokens generated.", [("", Double(s.generatedTokens))])
        metric("dolly_lookup_drafted_tokens_total", "counter", "Tokens guessed by prompt lookup or the draft model (serve --lookup, --draft).",
               [("", Double(s.draftedTokens))])
        metric("dolly_lookup_accepted_tokens_total", "counter", "Guessed tokens the answers confirmed.",
               [("", Double(s.acceptedTokens))])
        metric("dolly_requests_active", "gauge", "Requests holding a slot.", [("", Double(s.active))])
        metric("dolly_requests_queued", "gauge", "Requests waiting for a slot.", [("", Double(s.queued))])
        metric("dolly_forward_seconds_total", "counter", "Seconds spent in forward passes.", [("", s.busySeconds)])
        metric("dolly_generated_tokens_per_second", "gauge", "Generated tokens per second of forward passes.",
               [("", s.busySeconds > 0 ? Double(s.generatedTokens) / s.busySeconds : 0)])
        metric("dolly_model_ready", "gauge", "1 once the model is loaded.", [("", engine == nil ? 0 : 1)])
        return out
    }
}
