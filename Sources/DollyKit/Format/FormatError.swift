#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Errors raised while reading, verifying or writing a `.dolly` file.
public enum FormatError: LocalizedError, Equatable {
    case notDollyFile(path: String)
    case unsupportedVersion(path: String, major: Int, minor: Int, supported: Int)
    case truncated(path: String, expected: Int, actual: Int)
    case corruptHeader(path: String, reason: String)
    case badMetadata(path: String, reason: String)
    case badTensor(path: String, tensor: String, reason: String)
    case checksumMismatch(path: String, tensor: String)
    case missingTensor(path: String, tensor: String)
    case cannotWrite(path: String, reason: String)
    case unsupportedSource(String)
    case interrupted

    public var errorDescription: String? {
        switch self {
        case let .notDollyFile(path): return "\(path) is not a .dolly file (bad magic)"
        case let .unsupportedVersion(path, major, minor, supported):
            return "\(path) has format version \(major).\(minor); this dolly reads major version \(supported) (upgrade dolly)"
        case let .truncated(path, expected, actual):
            return "\(path) is truncated: \(actual) bytes, the header says \(expected)"
        case let .corruptHeader(path, reason): return "\(path): header damaged: \(reason)"
        case let .badMetadata(path, reason): return "\(path): bad metadata: \(reason)"
        case let .badTensor(path, tensor, reason): return "\(path): tensor \(tensor): \(reason)"
        case let .checksumMismatch(path, tensor): return "\(path): tensor \(tensor) is corrupted (CRC-32 mismatch)"
        case let .missingTensor(path, tensor): return "\(path) has no tensor \(tensor)"
        case let .cannotWrite(path, reason): return "cannot write \(path): \(reason)"
        case let .unsupportedSource(reason): return "cannot convert: \(reason)"
        case .interrupted: return "interrupted"
        }
    }
}
