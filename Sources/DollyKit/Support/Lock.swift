#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Locks and a thread without Foundation (DollyKit imports FoundationEssentials, which has neither
// NSLock nor Thread; Synchronization's Mutex needs macOS 15, the package supports 13).

/// A mutex: NSLock's lock, unlock, try and withLock over a pthread mutex. `package`: the C API's
/// sessions use it too, but it is no part of DollyKit's public API.
package final class Lock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    package init() {
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    package func lock() { pthread_mutex_lock(mutex) }
    package func unlock() { pthread_mutex_unlock(mutex) }
    /// Takes the lock if it is free; false (without waiting) when another caller holds it.
    package func `try`() -> Bool { pthread_mutex_trylock(mutex) == 0 }

    package func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A mutex with a condition variable: the part of NSCondition the batch engine uses.
final class Condition: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        mutex.initialize(to: pthread_mutex_t())
        condition.initialize(to: pthread_cond_t())
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    func signal() { pthread_cond_signal(condition) }
    func broadcast() { pthread_cond_broadcast(condition) }
    /// Waits (the lock held) until signalled; the lock is held again on return.
    func wait() { pthread_cond_wait(condition, mutex) }

    /// Waits (the lock held) until signalled or `seconds` have passed; false on timeout.
    @discardableResult
    func wait(seconds: Double) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)   // pthread_cond_timedwait's default clock
        let nanoseconds = Int(now.tv_nsec) + Int(max(seconds, 0) * 1e9)
        var deadline = timespec(tv_sec: now.tv_sec + nanoseconds / 1_000_000_000,
                                tv_nsec: numericCast(nanoseconds % 1_000_000_000))
        return pthread_cond_timedwait(condition, mutex, &deadline) == 0
    }

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A detached OS thread running one closure: Foundation's Thread as DollyKit used it (a stack
/// size, whether it has finished). Unnamed: Glibc's module does not declare pthread_setname_np.
final class BackgroundThread: @unchecked Sendable {
    private let done = StopFlag()

    /// Whether the closure has returned.
    var isFinished: Bool { done.isSet }

    private final class Start {
        let body: () -> Void
        init(body: @escaping () -> Void) { self.body = body }
    }

    /// Starts `body` on a new thread with `stackSize` bytes of stack.
    @discardableResult
    static func start(stackSize: Int = 8 << 20, _ body: @escaping () -> Void) -> BackgroundThread {
        let thread = BackgroundThread()
        let start = Unmanaged.passRetained(Start { body(); thread.done.set() }).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attributes, stackSize)
        #if canImport(Darwin)
        var id: pthread_t?
        #else
        var id = pthread_t()
        #endif
        let status = pthread_create(&id, &attributes, { raw in
            #if canImport(Darwin)
            Unmanaged<Start>.fromOpaque(raw).takeRetainedValue().body()
            #else
            Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue().body()
            #endif
            return nil
        }, start)
        precondition(status == 0, "pthread_create failed: \(status)")
        return thread
    }
}
