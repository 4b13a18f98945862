#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Errors raised while configuring, loading or running a GPT-NeoX model.
public enum ModelError: LocalizedError, Equatable {
    case missingFile(String)
    case badConfig(String)
    case unsupported(String)
    case missingTensor(String)
    case badTensor(name: String, reason: String)
    case contextFull(limit: Int)
    /// A session asked for more positions than the model has (or none).
    case contextLength(requested: Int, limit: Int)
    case promptTooLong(tokens: Int, limit: Int)
    case emptyPrompt
    /// A generation request that can't be run as given (e.g. a sampling value out of range).
    case invalidRequest(String)
    /// The system refused memory for a cache or buffer.
    case outOfMemory(bytes: Int, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .missingFile(path): return "missing \(path)"
        case let .badConfig(reason): return "bad config.json: \(reason)"
        case let .unsupported(what): return "unsupported model: \(what)"
        case let .missingTensor(name): return "checkpoint has no tensor \(name)"
        case let .badTensor(name, reason): return "tensor \(name): \(reason)"
        case let .contextFull(limit): return "the context is full (\(limit) tokens)"
        case let .contextLength(requested, limit):
            return requested < 1 ? "a context of \(requested) tokens is not possible"
                : "a context of \(requested) tokens exceeds the model's max_position_embeddings \(limit)"
        case let .promptTooLong(tokens, limit):
            return "the prompt is \(tokens) tokens but the context holds \(limit)"
        case .emptyPrompt: return "the prompt is empty"
        case let .invalidRequest(reason): return "invalid request: \(reason)"
        case let .outOfMemory(bytes, reason):
            return "cannot reserve \((Double(bytes) / 1e9).fixed(2)) GB: \(reason)"
        }
    }
}
