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

/// A large zero-filled buffer from an anonymous mapping: the kernel hands out a page only when it is
/// first written, so a KV cache sized for 2048 tokens costs what the tokens in it take, not the whole
/// reservation (a short answer on a 12b model stays near the file size).
final class ZeroPages: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) throws {
        self.byteCount = max(byteCount, 1)
        let p = mmap(nil, self.byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else {
            throw ModelError.outOfMemory(bytes: self.byteCount, reason: String(cString: strerror(errno)))
        }
        base = p
    }

    /// Gives the pages back to the system (they read as zeros again): a cache that is reset for a new
    /// request holds no memory for tokens it no longer has.
    func release(from offset: Int = 0) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (offset + page - 1) / page * page
        guard start < byteCount else { return }
        _ = madvise(base + start, byteCount - start, Int32(MADV_DONTNEED))
    }

    deinit { munmap(base, byteCount) }
}
