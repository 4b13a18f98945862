import ArgumentParser
import DollyKit
import Foundation

/// What every command that writes a file does around the write: SIGTERM and SIGHUP handled like
/// Ctrl-C, stale temporaries of killed runs removed (and said so), and an interruption reported
/// as one line with exit status 128 + the signal.
enum OutputFile {
    /// Call before the work starts.
    static func prepare(_ output: String) {
        Interrupt.installForWriting()
        // Past a file-size limit, get EFBIG from write() (a clean error) instead of being killed.
        signal(SIGXFSZ, SIG_IGN)
        let dir = (output as NSString).deletingLastPathComponent
        for r in StaleTemporaries.remove(in: dir.isEmpty ? "." : dir) {
            Console.note("dolly: removed \(r.path) (\(r.bytes) bytes), left by process \(r.pid), which no longer runs")
        }
    }

    /// Runs the work; an interruption becomes one line and exit status 128 + the signal.
    static func interruptible(_ body: () throws -> Void, cleanup: () -> Void = {}) throws {
        do {
            try body()
        } catch FormatError.interrupted where Interrupt.requested {
            cleanup()
            Console.note("dolly: interrupted by \(Interrupt.signalName): nothing written")
            throw ExitCode(128 + Interrupt.signal)
        }
    }
}
