#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The fallback writer's temporary files, `.NAME.tmp-PID`, and their removal once their writer is
/// gone (killed where O_TMPFILE was unavailable). A file is removed only when its name has that
/// form, its process no longer exists, and it is empty or starts like a file dolly writes, so a
/// user's own dot-file is never touched.
public enum StaleTemporaries {
    public struct Removed: Sendable, Equatable {
        public var path: String
        public var pid: Int32
        public var bytes: Int
    }

    /// Magic numbers of the files dolly writes (.dolly, importance matrix).
    static let magics: [[UInt8]] = [FileHeader.magic, ImportanceMatrix.magic]

    static func name(for file: String, in dir: String, pid: Int32) -> String {
        dir.appendingPath(".\(file).tmp-\(pid)")
    }

    /// The writer's PID, when `name` is a temporary's name.
    static func pid(of name: String) -> Int32? {
        guard name.hasPrefix("."), let r = name.ranges(of: ".tmp-").last, r.lowerBound > name.index(after: name.startIndex)
        else { return nil }
        let digits = name[r.upperBound...]
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int32(digits)
    }

    static func isAlive(_ pid: Int32) -> Bool {
        if pid == getpid() { return true }
        return kill(pid, 0) == 0 || errno != ESRCH
    }

    /// Removes the stale temporaries in `dir`; returns what it removed.
    @discardableResult
    public static func remove(in dir: String) -> [Removed] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        var removed: [Removed] = []
        for name in names {
            guard let pid = pid(of: name), pid > 0, !isAlive(pid) else { continue }
            let path = dir.appendingPath(name)
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            guard st.st_size < 8 || magics.contains(where: { FileMagic.matches(path, $0) }) else { continue }
            if unlink(path) == 0 { removed.append(Removed(path: path, pid: pid, bytes: Int(st.st_size))) }
        }
        return removed
    }
}
