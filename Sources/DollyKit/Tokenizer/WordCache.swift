#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thread-safe memo of short pieces' bytes → ids; most words in real text repeat. Only pieces of at
/// most `maxPieceBytes` are kept (`tokenizers` caches below 256 characters too): long ones rarely
/// repeat, and keeping them would let a client fill memory with a few large requests.
final class WordCache: @unchecked Sendable {
    static let maxPieceBytes = 256

    /// Stored keys own their bytes; a lookup key borrows the caller's, so a hit allocates nothing.
    private enum Key: Hashable {
        case owned([UInt8])
        case borrowed(UnsafeBufferPointer<UInt8>)

        func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
            switch self {
            case let .owned(a): return a.withUnsafeBytes(body)
            case let .borrowed(p): return body(UnsafeRawBufferPointer(p))
            }
        }

        static func == (a: Key, b: Key) -> Bool {
            a.withBytes { x in b.withBytes { y in x.count == y.count && (x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0) } }
        }

        func hash(into hasher: inout Hasher) { withBytes { hasher.combine(bytes: $0) } }
    }

    private var entries: [Key: [Int32]] = [:]
    private let lock = Lock()
    /// Bounded so that a long-running process fed arbitrary text does not grow without limit.
    private let capacity = 100_000

    /// Appends the cached ids of `piece` to `out`; false when it is not cached.
    func append(_ piece: UnsafeBufferPointer<UInt8>, to out: inout [Int32]) -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard let ids = entries[.borrowed(piece)] else { return false }
        out.append(contentsOf: ids)
        return true
    }

    func set(_ piece: UnsafeBufferPointer<UInt8>, _ ids: ArraySlice<Int32>) {
        guard piece.count <= Self.maxPieceBytes else { return }
        let key = Key.owned(Array(piece)), value = Array(ids)
        lock.lock(); defer { lock.unlock() }
        if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        entries[key] = value
    }
}
