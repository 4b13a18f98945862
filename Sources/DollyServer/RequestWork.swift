import DollyKit
import Foundation
import Hummingbird
import NIOCore

/// Hummingbird's basic context plus the request's connection, so that long work can notice a client
/// that left.
struct DollyRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Tokenizer work of one request. Small inputs run inline; large ones on a thread of their own, never on
/// an event loop or one of Swift's few cooperative threads (two on this machine), so that one big
/// request delays nobody else. Such work stops when the client leaves, when the request's task is
/// cancelled, or when the grace period after a shutdown ends.
enum RequestWork {
    /// Below this many bytes work takes microseconds: a thread would cost more than it saves.
    static let inlineBytes = 16 << 10

    static func run<T: Sendable>(bytes: Int, context: DollyRequestContext, state: ServerState,
                                 _ work: @escaping @Sendable (_ isCancelled: @escaping @Sendable () -> Bool) throws -> T)
        async throws -> T {
        if bytes < inlineBytes { return try work { false } }
        let flag = StopFlag()
        let watcher = DisconnectWatcher(flag: flag)
        let pipeline = context.channel.pipeline
        try? await pipeline.addHandler(watcher, position: .first).get()
        defer { pipeline.removeHandler(watcher, promise: nil) }
        if !context.channel.isActive { flag.set() }  // gone before the watcher was in place
        state.track(flag)
        defer { state.untrack(flag) }
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (done: CheckedContinuation<T, Error>) in
                    Thread.detachNewThread { done.resume(with: Result { try work { flag.isSet } }) }
                }
            } onCancel: {
                flag.set()
            }
        } catch TokenizerError.cancelled {
            state.countCancelledWork()
            throw TokenizerError.cancelled
        }
    }
}

/// Sits first in a connection's pipeline while work for it runs: the client closing its side (the
/// server allows half-closed connections, so that is an event, not a closed channel) or the
/// connection dropping cancels the work.
private final class DisconnectWatcher: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let flag: StopFlag

    init(flag: StopFlag) { self.flag = flag }

    func channelInactive(context: ChannelHandlerContext) {
        flag.set()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed { flag.set() }
        context.fireUserInboundEventTriggered(event)
    }
}
