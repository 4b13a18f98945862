import CSIMD
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Writes a file that appears at `finalPath` only when complete: a failed, interrupted or killed
/// write never leaves a partial file there, and an existing file is replaced in one rename.
///
/// On Linux the bytes go to an unnamed file (O_TMPFILE) in the destination's folder, named only at
/// `commit()`: a `kill -9` or the OOM killer at any moment leaves nothing behind, because the kernel
/// frees an unnamed file with its last descriptor. Where the filesystem has no O_TMPFILE (or with
/// `DOLLY_NO_TMPFILE=1`, which the tests use to reach this path) it writes `.NAME.tmp-PID` instead,
/// and every writer first removes such files left by processes that no longer exist.
public final class AtomicFileWriter {
    public let finalPath: String
    /// The visible temporary name, when the fallback is in use; nil while the file is unnamed.
    public private(set) var temporaryPath: String?
    /// Stale temporary files this writer removed before starting (for the caller to report).
    public private(set) var removedStale: [StaleTemporaries.Removed] = []
    private var fd: Int32
    private let unnamed: Bool
    private var finished = false

    public init(finalPath: String) throws {
        self.finalPath = finalPath
        let url = URL(fileURLWithPath: finalPath)
        let dir = url.deletingLastPathComponent().path
        if isDirectory(finalPath) == true {
            throw FormatError.cannotWrite(path: finalPath, reason: "it is a directory")
        }
        let forceNamed = ProcessInfo.processInfo.environment["DOLLY_NO_TMPFILE"].map { !$0.isEmpty && $0 != "0" } ?? false
        var fd: Int32 = forceNamed ? -1 : csimd_tmpfile_open(dir)
        if fd < 0 && !forceNamed && ![EOPNOTSUPP, EISDIR, EINVAL].contains(errno) {
            // A real failure (no such folder, no permission), not a missing feature.
            throw FormatError.cannotWrite(path: finalPath, reason: String(cString: strerror(errno)))
        }
        unnamed = fd >= 0
        removedStale = StaleTemporaries.remove(in: dir)
        if fd < 0 {
            let temporary = StaleTemporaries.name(for: url.lastPathComponent, in: dir, pid: getpid())
            fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw FormatError.cannotWrite(path: finalPath, reason: String(cString: strerror(errno))) }
            temporaryPath = temporary
        }
        self.fd = fd
    }

    deinit { abandon() }

    private func failure() -> FormatError {
        FormatError.cannotWrite(path: finalPath, reason: String(cString: strerror(errno)))
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw failure()
            }
            done += n
        }
    }

    public func write(_ data: Data) throws { try data.withUnsafeBytes { try write($0) } }
    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    public func writeZeros(_ count: Int) throws {
        guard count > 0 else { return }
        try write([UInt8](repeating: 0, count: count))
    }

    /// Overwrites bytes already written, at an absolute offset.
    public func write(_ data: Data, at offset: Int) throws {
        try data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw failure()
                }
                done += n
            }
        }
    }

    public func write(_ bytes: [UInt8], at offset: Int) throws { try write(Data(bytes), at: offset) }

    /// Flushes to disk and puts the file in place.
    public func commit() throws {
        guard fsync(fd) == 0 else { throw failure() }
        if unnamed { try linkIntoPlace() }
        guard close(fd) == 0 else { fd = -1; throw failure() }
        fd = -1
        if let temporaryPath {
            guard rename(temporaryPath, finalPath) == 0 else { throw failure() }
        }
        finished = true
        syncDirectory()
    }

    /// Names the unnamed file: straight at `finalPath` when nothing is there (no window at all),
    /// else under the fallback's temporary name and renamed over the old file (replacing it in one
    /// step; a kill in the microseconds between leaves a temporary that the next writer removes).
    private func linkIntoPlace() throws {
        if csimd_tmpfile_link(fd, finalPath) == 0 { return }
        guard errno == EEXIST else { throw failure() }
        let dir = finalPath.deletingLastPathPart
        let temporary = StaleTemporaries.name(for: finalPath.lastPathPart, in: dir.isEmpty ? "." : dir, pid: getpid())
        unlink(temporary)
        guard csimd_tmpfile_link(fd, temporary) == 0 else { throw failure() }
        temporaryPath = temporary
    }

    /// The rename itself is durable only once the folder is synced.
    private func syncDirectory() {
        let dir = finalPath.deletingLastPathPart
        let d = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if d >= 0 { _ = fsync(d); close(d) }
    }

    /// Drops the unfinished file (idempotent).
    public func abandon() {
        if finished { return }
        finished = true
        if fd >= 0 { close(fd); fd = -1 }
        if let temporaryPath { unlink(temporaryPath) }
    }
}
