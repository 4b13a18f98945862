import Foundation

/// How files identify themselves: the first bytes, compared before a file is replaced or removed.
public enum FileMagic {
    /// Whether the file at `path` starts with `magic` (false if it cannot be read).
    public static func matches(_ path: String, _ magic: [UInt8]) -> Bool {
        guard let h = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? h.close() }
        return (try? h.read(upToCount: magic.count)).map { [UInt8]($0) == magic } ?? false
    }
}
