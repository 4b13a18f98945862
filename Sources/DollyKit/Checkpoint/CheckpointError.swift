#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Everything that can go wrong reading a published checkpoint. Every message names the file and
/// what is wrong with it in one line, because the user's only remedy is usually to re-download.
public enum CheckpointError: LocalizedError, Equatable {
    /// No known checkpoint layout was found in a directory.
    case notFound(directory: String, lookedFor: [String])
    /// The file ended before a structure that it promised.
    case truncated(file: String, what: String)
    /// The zip container is malformed.
    case badZip(file: String, reason: String)
    /// The zip entry is compressed (or encrypted); torch writes stored entries only.
    case compressedEntry(file: String, entry: String, method: Int)
    /// A zip entry's data does not match its recorded CRC-32.
    case crcMismatch(file: String, entry: String, expected: UInt32, actual: UInt32)
    /// A zip entry the format requires is absent.
    case missingEntry(file: String, entry: String)
    /// The pickle stream is malformed or uses something outside the torch.save subset.
    case badPickle(file: String, offset: Int, reason: String)
    /// The pickle names a global that is not on the allow list (never executed, just refused).
    case forbiddenGlobal(file: String, module: String, name: String)
    /// A tensor's description is invalid or refers outside its storage.
    case badTensor(file: String, tensor: String, reason: String)
    /// A tensor uses a layout we do not read (e.g. non-contiguous strides).
    case unsupportedLayout(file: String, tensor: String, reason: String)
    /// The safetensors header is malformed.
    case badSafetensors(file: String, reason: String)
    /// A *.index.json shard index is malformed or inconsistent with its shards.
    case badIndex(file: String, reason: String)
    /// A tensor was asked for that the checkpoint does not contain.
    case tensorNotFound(source: String, tensor: String)

    public var errorDescription: String? {
        switch self {
        case let .notFound(dir, names):
            return "no checkpoint in \(dir): looked for \(names.joined(separator: ", "))"
        case let .truncated(file, what):
            return "\(file): file is truncated (\(what) runs past the end)"
        case let .badZip(file, reason):
            return "\(file): not a valid zip archive: \(reason)"
        case let .compressedEntry(file, entry, method):
            return "\(file): zip entry \(entry) uses compression method \(method); only stored (0) entries are supported"
        case let .crcMismatch(file, entry, expected, actual):
            return "\(file): zip entry \(entry) is damaged: CRC-32 is \(hex(actual)), expected \(hex(expected))"
        case let .missingEntry(file, entry):
            return "\(file): missing zip entry \(entry)"
        case let .badPickle(file, offset, reason):
            return "\(file): bad pickle at byte \(offset): \(reason)"
        case let .forbiddenGlobal(file, module, name):
            return "\(file): pickle names unexpected global \(module).\(name); refusing to load it"
        case let .badTensor(file, tensor, reason):
            return "\(file): tensor \(tensor) is invalid: \(reason)"
        case let .unsupportedLayout(file, tensor, reason):
            return "\(file): tensor \(tensor) has an unsupported layout: \(reason)"
        case let .badSafetensors(file, reason):
            return "\(file): invalid safetensors file: \(reason)"
        case let .badIndex(file, reason):
            return "\(file): invalid shard index: \(reason)"
        case let .tensorNotFound(source, tensor):
            return "\(source): no tensor named \(tensor)"
        }
    }
}

private func hex(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
}
