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

/// Decides whether a command may write `output`, before any work: never onto one of its inputs
/// (same device and inode, links resolved), never inside an input folder, never over an existing
/// file of another kind unless forced. Every command that writes a file asks it first.
public enum OutputGuard {
    /// The path to write (links followed, so a link to a model file replaces the file, not the link).
    /// `magic` is how files of the kind being written start; `kind` names them in messages ("a .dolly file").
    public static func check(output: String, inputs: [String], magic: [UInt8], kind: String,
                             force: Bool = false) throws -> String {
        let target = resolve(output)
        let directory = target.deletingLastPathPart
        let existing = statOf(target)
        for input in inputs {
            guard let inStat = statOf(input) else { continue }
            if isDirectory(inStat) {
                // A file of the folder may live elsewhere (Hugging Face's cache links shards to blobs).
                if let existing, let file = member(of: input, existing) { throw FileError.outputIsInput(path: output, input: file) }
                if within(directory, folder: inStat) { throw FileError.outputInsideInput(path: output, folder: input) }
            } else if let existing, same(existing, inStat) {
                throw FileError.outputIsInput(path: output, input: input)
            }
        }
        guard let existing else { return target }
        if isDirectory(existing) { throw FormatError.cannotWrite(path: output, reason: "it is a directory") }
        // Renaming over a device or a pipe would replace the node itself (as root, /dev/null).
        guard (existing.st_mode & S_IFMT) == S_IFREG else { throw FileError.notAFile(path: output) }
        // An empty file holds nothing to lose.
        if !force && existing.st_size > 0 && !FileMagic.matches(target, magic) {
            throw FileError.foreignOutput(path: output, kind: kind)
        }
        return target
    }

    /// `path` with its folder's links resolved and, if it is a link itself, followed.
    static func resolve(_ path: String) -> String {
        if let full = realpath(path, nil) {
            defer { free(full) }
            return String(cString: full)
        }
        // Not there (yet, or a dangling link): resolve the folder, keep the name.
        let name = path.lastPathPart
        let folder = path.deletingLastPathPart
        guard let dir = realpath(folder.isEmpty ? "." : folder, nil) else { return path }
        defer { free(dir) }
        return String(cString: dir).appendingPath(name)
    }

    static func statOf(_ path: String) -> stat? {
        var st = stat()
        return stat(path, &st) == 0 ? st : nil
    }

    static func isDirectory(_ st: stat) -> Bool { (st.st_mode & S_IFMT) == S_IFDIR }
    static func same(_ a: stat, _ b: stat) -> Bool { a.st_dev == b.st_dev && a.st_ino == b.st_ino }

    /// Whether `directory` is `folder` or lies below it, by inode (bind mounts and links included).
    static func within(_ directory: String, folder: stat) -> Bool {
        var dir = directory.isEmpty ? "/" : directory
        while true {
            if let st = statOf(dir), same(st, folder) { return true }
            if dir == "/" { return false }
            dir = dir.deletingLastPathPart
            if dir.isEmpty { dir = "/" }
        }
    }

    /// The folder's entry (followed if a link) that is the file `file`, if any.
    static func member(of folder: String, _ file: stat) -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.lazy.map { folder.appendingPath($0) }
            .first { statOf($0).map { same($0, file) } ?? false }
    }

}
