#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A flag set from one thread and read from another: how a consumer, a client that left or a
/// shutdown tells a long loop on another thread to stop.
public final class StopFlag: @unchecked Sendable {
    private let lock = Lock()
    private var value = false

    public init() {}

    public func set() { lock.withLock { value = true } }
    /// Lowers the flag again, for a flag reused by one request after another (the C API's sessions).
    public func clear() { lock.withLock { value = false } }
    public var isSet: Bool { lock.withLock { value } }
}
