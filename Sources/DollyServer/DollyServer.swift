import DollyKit
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// `dolly serve`: an OpenAI-compatible HTTP API over one model, with continuous batching. Routes are thin;
/// generation is DollyKit's `BatchEngine`.
public final class DollyServer: @unchecked Sendable {
    public let configuration: ServerConfiguration
    private let state: ServerState
    private let lock = NSLock()
    private var group: ServiceGroup?

    public init(configuration: ServerConfiguration) {
        self.configuration = configuration
        state = ServerState(configuration: configuration)
    }

    /// Binds, loads the model (/health answers 503 until it is ready), calls `onReady` with the bound
    /// port, and serves until SIGINT / SIGTERM (with `handleSignals`) or `shutdown()`. On shutdown it
    /// stops taking requests, gives running ones `shutdownGrace` seconds, ends the rest with a final
    /// event, and returns.
    public func run(handleSignals: Bool = true, onReady: @escaping @Sendable (Int) -> Void = { _ in },
                    onLoadFailure: @escaping @Sendable (any Error) -> Void = { _ in }) async throws {
        var logger = Logger(label: "dolly-serve")
        logger.logLevel = .warning
        let state = self.state, configuration = self.configuration
        let app = Application(
            router: Self.router(state: state),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "dolly"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                // Load after binding, so /health can say "loading" meanwhile.
                Thread.detachNewThread {
                    do {
                        let model = try DollyModel.load(path: configuration.modelPath, fileMode: configuration.modelFileMode)
                        let context = configuration.context ?? min(2048, model.config.maxPositionEmbeddings)
                        let draft = try configuration.draftPath.map { try DollyModel.load(path: $0, fileMode: configuration.modelFileMode) }
                        let engine = try BatchEngine(model: model, options: .init(
                            parallel: configuration.parallel, context: context, kvType: configuration.kvType,
                            maxQueue: configuration.maxQueue, stepRows: configuration.batchRows, prefixCache: configuration.prefixCache,
                            threads: configuration.threads, lookup: configuration.lookup,
                            draft: draft, draftMax: configuration.draftMax))
                        for spec in configuration.adapters {
                            try state.adapters.add(name: spec.name, path: spec.path, model: model.network)
                        }
                        state.setLoaded(model: model, engine: engine)
                        onReady(port)
                    } catch {
                        state.setFailed(error.localizedDescription)
                        onLoadFailure(error)
                    }
                }
            },
            logger: logger)
        let engineService = EngineShutdown(state: state, grace: configuration.shutdownGrace)
        // Shut down in reverse order: the engine first (grace period, then cancel), then the HTTP server.
        var groupConfiguration = ServiceGroupConfiguration(
            services: [app, engineService],
            gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
            logger: logger)
        // A backstop: whatever a handler is doing, the grace plus this margin ends it (by cancellation).
        groupConfiguration.maximumGracefulShutdownDuration = .milliseconds(Int64((configuration.shutdownGrace + 10) * 1000))
        let group = ServiceGroup(configuration: groupConfiguration)
        lock.withLock { self.group = group }
        try await group.run()
    }

    /// Starts the graceful shutdown `run` performs on a signal.
    public func shutdown() async {
        let group = lock.withLock { self.group }
        await group?.triggerGracefulShutdown()
    }

    static func router(state: ServerState) -> Router<DollyRequestContext> {
        let router = Router(context: DollyRequestContext.self)
        router.add(middleware: ErrorMiddleware(state: state))
        if let origin = state.configuration.corsOrigin {
            router.add(middleware: CORSMiddleware(allowOrigin: .custom(origin),
                                                  allowHeaders: [.accept, .authorization, .contentType, .origin],
                                                  allowMethods: [.get, .post, .delete, .options]))
        }
        if let key = state.configuration.apiKey { router.add(middleware: APIKeyMiddleware(key: key)) }
        if state.configuration.webUI { ChatPage.register(on: router) }

        router.get("health") { _, _ -> Response in
            state.isReady ? JSONBody.response(["status": "ok"])
                : ErrorMiddleware<DollyRequestContext>.response(.busy("the model is loading", retryAfter: 2))
        }
        router.get("metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(string: state.metricsText())))
        }
        OpenAIRoutes.register(on: router, state: state)
        OllamaRoutes.register(on: router, state: state)
        AdapterRoutes.register(on: router, state: state)
        return router
    }
}

/// Ends the engine on graceful shutdown: running requests get `grace` seconds, the rest end cancelled.
private struct EngineShutdown: Service {
    let state: ServerState
    let grace: Double

    func run() async throws {
        try? await gracefulShutdown()
        // Tokenizing a large request is not the engine's: it too gets the grace, then stops.
        let state = self.state
        DispatchQueue.global().asyncAfter(deadline: .now() + grace) { state.cancelAllWork() }
        guard let engine = state.engineIfLoaded else { return }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                engine.shutdown(grace: grace)
                done.resume()
            }
        }
    }
}
