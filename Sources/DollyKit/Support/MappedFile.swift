import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors raised while opening or mapping files.
public enum FileError: LocalizedError, Equatable {
    case cannotOpen(path: String, reason: String)
    case notAFile(path: String)
    case mapFailed(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .cannotOpen(path, reason): return "cannot open \(path): \(reason)"
        case let .notAFile(path): return "\(path) is not a regular file"
        case let .mapFailed(path, reason): return "cannot map \(path): \(reason)"
        }
    }
}

/// A read-only memory mapping of a whole file. Weights are used in place from these bytes;
/// nothing multi-gigabyte is ever read into the heap.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    /// The mapped bytes; valid for the lifetime of this object.
    public let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FileError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw FileError.notAFile(path: path) }
        let size = Int(st.st_size)
        if size == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw FileError.mapFailed(path: path, reason: String(cString: strerror(errno)))
        }
        base = p
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    public var count: Int { bytes.count }

    /// Drops the pages under `region` from this process's resident set (the kernel keeps them in
    /// its page cache). Safe on this read-only mapping: a later access simply maps them again.
    /// Streaming passes call it so that reading a 24 GB checkpoint never makes the process 24 GB.
    public static func releasePages(_ region: UnsafeRawBufferPointer) {
        #if canImport(Glibc)
        guard let start = region.baseAddress, region.count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = Int(bitPattern: start) & ~(page - 1)
        let hi = Int(bitPattern: start) + region.count
        _ = madvise(UnsafeMutableRawPointer(bitPattern: lo), hi - lo, MADV_DONTNEED)
        #endif
    }

    deinit {
        if let base { munmap(base, bytes.count) }
    }
}
