import Foundation

/// A flag set from one thread and read from another: how a consumer, a client that left or a
/// shutdown tells a long loop on another thread to stop.
public final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    public init() {}

    public func set() { lock.withLock { value = true } }
    public var isSet: Bool { lock.withLock { value } }
}
