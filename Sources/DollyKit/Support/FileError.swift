#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Errors raised while opening, mapping or choosing files (Support's one error type).
public enum FileError: LocalizedError, Equatable {
    case cannotOpen(path: String, reason: String)
    case notAFile(path: String)
    case mapFailed(path: String, reason: String)
    /// A file changed while it was being read into memory, again and again.
    case unstable(path: String)
    /// The output is (a link to) one of the command's inputs.
    case outputIsInput(path: String, input: String)
    /// The output would land inside an input folder (a checkpoint's files are never written to).
    case outputInsideInput(path: String, folder: String)
    /// The output exists and is not the kind of file being written.
    case foreignOutput(path: String, kind: String)

    public var errorDescription: String? {
        switch self {
        case let .cannotOpen(path, reason): return "cannot open \(path): \(reason)"
        case let .notAFile(path): return "\(path) is not a regular file"
        case let .mapFailed(path, reason): return "cannot map \(path): \(reason)"
        case let .unstable(path): return "\(path) kept changing while it was read; try again once it is complete"
        case let .outputIsInput(path, input):
            return "refusing to write \(path): it is the input \(input) (choose another output file)"
        case let .outputInsideInput(path, folder):
            return "refusing to write \(path): it is inside the input folder \(folder) (choose an output outside it)"
        case let .foreignOutput(path, kind):
            return "refusing to replace \(path): it exists and is not \(kind) (--force replaces it)"
        }
    }
}
