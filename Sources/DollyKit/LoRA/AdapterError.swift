#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Errors of run-time LoRA adapters: writing and reading `.dolly-lora` files, and fitting one to a model.
/// A bad or hostile file is always one of these, never a crash.
public enum AdapterError: LocalizedError, Equatable {
    /// The file does not start with the `.dolly-lora` magic.
    case notAdapterFile(path: String)
    /// Damaged or inconsistent: header, metadata, tensor table or a checksum.
    case badFile(path: String, reason: String)
    /// A sound adapter made for another base shape (or another tensor layout than the model's).
    case doesNotFit(path: String, reason: String)
    /// A delta handed to the writer that cannot be an adapter of this base.
    case badDelta(String)
    /// A name a server or command was asked for that no loaded adapter has.
    case unknown(name: String)
    /// A name already given to a loaded adapter.
    case nameTaken(name: String)

    public var errorDescription: String? {
        switch self {
        case let .notAdapterFile(path): return "\(path) is not a .dolly-lora adapter file (bad magic)"
        case let .badFile(path, reason): return "\(path): damaged adapter file: \(reason)"
        case let .doesNotFit(path, reason): return "\(path) does not fit this model: \(reason)"
        case let .badDelta(reason): return "cannot write the adapter: \(reason)"
        case let .unknown(name): return "no adapter named \(name)"
        case let .nameTaken(name): return "an adapter named \(name) is loaded already (remove it first)"
        }
    }
}
