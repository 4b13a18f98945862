import CSIMD
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

/// A read-only view of a whole file, page-aligned. Weights are used in place from these bytes.
///
/// `.map` (the default) maps the file: instant, shared with the page cache and other processes, but
/// the bytes are the file's for as long as they are used, so the file must be replaced only by
/// renaming a new one into place; a truncation raises SIGBUS (which `MappingFault` turns into one
/// line and exit status 1). `.read` copies the file into anonymous memory: it costs reading the
/// whole file at start and pages the kernel cannot drop and re-read, but nothing done to the file
/// afterwards (truncated, rewritten in place, replaced) reaches the process.
public final class MappedFile: @unchecked Sendable {
    public enum Mode: String, Sendable {
        case map, read
    }

    public let path: String
    public let mode: Mode
    /// The bytes; valid for the lifetime of this object.
    public let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?
    private let length: Int
    private var faultSlot: Int32 = -1

    public init(path: String, mode: Mode = .map) throws {
        self.path = path
        self.mode = mode
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw FileError.notAFile(path: path) }
        let size = Int(st.st_size)
        if size == 0 {
            base = nil
            length = 0
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        switch mode {
        case .map:
            guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
                throw FileError.mapFailed(path: path, reason: String(cString: strerror(errno)))
            }
            base = p
            length = size
            faultSlot = csimd_mapfault_register(p, size, path)
        case .read:
            let (p, n) = try Self.readCopy(fd: fd, path: path, stat: st)
            base = p
            length = n
        }
        bytes = UnsafeRawBufferPointer(start: base, count: length)
    }

    /// Reads the file into an anonymous mapping (page-aligned like a file mapping), checking that it
    /// did not change meanwhile: a copy taken while someone rewrites the file is taken again.
    private static func readCopy(fd: Int32, path: String, stat first: stat) throws -> (UnsafeMutableRawPointer, Int) {
        var before = first
        for _ in 0..<3 {
            let size = Int(before.st_size)
            guard size > 0 else { throw FileError.unstable(path: path) }
            guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
                throw FileError.mapFailed(path: path, reason: String(cString: strerror(errno)))
            }
            #if canImport(Glibc)
            // 2 MB pages where the kernel has them: fewer page faults while copying, fewer TLB misses after.
            _ = madvise(p, size, MADV_HUGEPAGE)
            #endif
            var done = 0
            while done < size {
                let n = pread(fd, p + done, min(size - done, 1 << 30), off_t(done))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                done += n
            }
            var after = stat()
            let same = fstat(fd, &after) == 0 && done == size && after.st_size == before.st_size
                && after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec
            if same {
                _ = mprotect(p, size, PROT_READ)  // as read-only as a mapping of the file
                return (p, size)
            }
            munmap(p, size)
            before = after
        }
        throw FileError.unstable(path: path)
    }

    public var count: Int { bytes.count }

    /// Drops the pages under `region` (of this file) from the resident set, where that is free:
    /// a mapping re-reads them from the file when touched again; a copy keeps them (dropping
    /// anonymous pages would zero them).
    public func release(_ region: UnsafeRawBufferPointer) {
        if mode == .map { Self.releasePages(region) }
    }

    /// Drops the pages under `region` from this process's resident set (the kernel keeps them in
    /// its page cache). Only for file mappings: a later access simply maps them again.
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
        csimd_mapfault_unregister(faultSlot)
        if let base { munmap(base, length) }
    }
}
