#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension DollyModel {
    /// Generates on a background thread with a session of its own and yields text pieces as they
    /// are decoded. Cancelling the consuming task stops generation after the current token. Several
    /// streams may run at once on one model: weights are shared, each has its own KV cache.
    public func stream(_ request: GenerationRequest, contextLength: Int? = nil, kvType: KVCacheType = .f16,
                       threads: Int = DollyModel.defaultThreads) -> AsyncThrowingStream<String, Error> {
        AsyncThrowingStream { continuation in
            let stopped = StopFlag()
            continuation.onTermination = { _ in stopped.set() }
            BackgroundThread.start(stackSize: 8 << 20) { [self] in
                do {
                    let session = try network.makeSession(contextLength: contextLength, kvType: kvType, threads: threads)
                    try generate(request, session: session, isCancelled: { stopped.isSet }) { piece in
                        continuation.yield(piece)
                        return true
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
        }
    }
}
