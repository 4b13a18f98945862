import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes a file under a temporary name beside its destination and renames it into place only
/// when complete, so an interrupted or failed write never leaves a partial file at `finalPath`.
public final class AtomicFileWriter {
    public let finalPath: String
    public let temporaryPath: String
    private var fd: Int32
    private var finished = false

    public init(finalPath: String) throws {
        self.finalPath = finalPath
        let url = URL(fileURLWithPath: finalPath)
        let dir = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: finalPath, isDirectory: &isDirectory), isDirectory.boolValue {
            throw FormatError.cannotWrite(path: finalPath, reason: "it is a directory")
        }
        temporaryPath = "\(dir)/.\(url.lastPathComponent).tmp-\(getpid())"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FormatError.cannotWrite(path: finalPath, reason: String(cString: strerror(errno))) }
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

    /// Flushes to disk and renames into place.
    public func commit() throws {
        guard fsync(fd) == 0 else { throw failure() }
        guard close(fd) == 0 else { fd = -1; throw failure() }
        fd = -1
        guard rename(temporaryPath, finalPath) == 0 else { throw failure() }
        finished = true
    }

    /// Deletes the temporary file (idempotent).
    public func abandon() {
        if finished { return }
        finished = true
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporaryPath)
    }
}
