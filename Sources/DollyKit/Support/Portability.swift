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

// What DollyKit took from Foundation (NSString, ObjCBool, NSError) that FoundationEssentials does not
// have: printf's fixed-point numbers, path components, a directory test, an error's message.

extension Double {
    /// printf's `%.Nf`: `3.14159.fixed(2)` is "3.14".
    func fixed(_ digits: Int) -> String {
        let format = "%.\(digits)f"
        let n = Int(withVaList([self]) { vsnprintf(nil, 0, format, $0) })
        guard n >= 0 else { return "\(self)" }
        var buffer = [CChar](repeating: 0, count: n + 1)
        _ = withVaList([self]) { vsnprintf(&buffer, buffer.count, format, $0) }
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension String {
    /// NSString's appendingPathComponent: `component` after one slash.
    func appendingPath(_ component: String) -> String {
        if isEmpty { return component }
        return hasSuffix("/") ? self + component : self + "/" + component
    }

    /// NSString's deletingLastPathComponent: "a/b/c" → "a/b", "a" → "", "/a" → "/".
    var deletingLastPathPart: String {
        var s = Substring(self)
        while s.count > 1 && s.hasSuffix("/") { s.removeLast() }
        guard let slash = s.lastIndex(of: "/") else { return "" }
        if slash == s.startIndex { return "/" }
        var parent = s[..<slash]
        while parent.count > 1 && parent.hasSuffix("/") { parent.removeLast() }
        return String(parent)
    }

    /// NSString's lastPathComponent: "a/b/c" → "c", "a/b/" → "b", "/" → "/".
    var lastPathPart: String {
        var s = Substring(self)
        while s.count > 1 && s.hasSuffix("/") { s.removeLast() }
        guard let slash = s.lastIndex(of: "/"), s.count > 1 else { return String(s) }
        return String(s[s.index(after: slash)...])
    }
}

extension StringProtocol {
    /// Without the blanks (spaces and tabs, not newlines) at either end: trimmingCharacters(in: .whitespaces).
    var trimmingBlanks: String {
        let blank = { (c: Character) in c.isWhitespace && !c.isNewline }
        guard let first = firstIndex(where: { !blank($0) }), let last = lastIndex(where: { !blank($0) }) else { return "" }
        return String(self[first...last])
    }
}

/// An error's message: its LocalizedError description (what Foundation's localizedDescription
/// gives for DollyKit's errors and for DecodingError), a POSIX error's strerror, else its text.
func errorMessage(_ error: Error) -> String {
    if let e = error as? LocalizedError, let text = e.errorDescription { return text }
    #if canImport(FoundationEssentials)
    if let e = error as? CocoaError {
        let cause = e.underlying.map(errorMessage) ?? "error \(e.code.rawValue)"
        return e.filePath.map { "\($0): \(cause)" } ?? cause
    }
    #endif
    if let e = error as? POSIXError { return String(cString: strerror(e.code.rawValue)) }
    return "\(error)"
}

/// Whether `path` (links followed) is a directory; nil when nothing is there. FileManager's
/// fileExists(atPath:isDirectory:) without the ObjCBool that only Darwin's Foundation takes.
func isDirectory(_ path: String) -> Bool? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return (st.st_mode & S_IFMT) == S_IFDIR
}

/// Nanoseconds on the monotonic clock: DispatchTime.now().uptimeNanoseconds without Dispatch.
func monotonicNanoseconds() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}
