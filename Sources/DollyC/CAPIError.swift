import CDolly
import DollyKit
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What the C layer itself refuses (DollyKit's errors pass through `status(for:)` unchanged).
enum CAPIError: LocalizedError {
    case nullArgument(String)
    case invalidArgument(String)
    case notUTF8(String)
    case bufferTooSmall(needed: Int, capacity: Int, unit: String)
    case tokenOutOfRange(id: Int32, vocabulary: Int)
    case busy
    case noPrompt
    case noLogits
    case foreignGrammar

    var errorDescription: String? {
        switch self {
        case let .nullArgument(name): return "\(name) is NULL"
        case let .invalidArgument(reason): return reason
        case let .notUTF8(name): return "\(name) is not valid UTF-8"
        case let .bufferTooSmall(needed, capacity, unit):
            return "the buffer holds \(capacity) \(unit), \(needed) are needed"
        case let .tokenOutOfRange(id, vocabulary): return "token id \(id) is outside the vocabulary [0, \(vocabulary))"
        case .busy: return "the session is busy with another call"
        case .noPrompt: return "no prompt: call dolly_prompt before dolly_generate"
        case .noLogits: return "no logits: call dolly_eval first (a reset or a generation discards them)"
        case .foreignGrammar: return "the grammar was made for another model"
        }
    }
}

/// The one reading of every error as a status code: the C API's and the Python package's.
func status(for error: Error) -> dolly_status {
    switch error {
    case let e as CAPIError:
        switch e {
        case .nullArgument, .invalidArgument, .notUTF8, .foreignGrammar: return DOLLY_ERR_INVALID_ARGUMENT
        case .bufferTooSmall: return DOLLY_ERR_BUFFER_TOO_SMALL
        case .tokenOutOfRange: return DOLLY_ERR_TOKEN_OUT_OF_RANGE
        case .busy: return DOLLY_ERR_BUSY
        case .noPrompt, .noLogits: return DOLLY_ERR_INVALID_STATE
        }
    case let e as ModelError:
        switch e {
        case .missingFile: return DOLLY_ERR_NOT_FOUND
        case .badConfig, .unsupported, .missingTensor, .badTensor: return DOLLY_ERR_BAD_MODEL
        case .contextFull, .contextLength, .promptTooLong: return DOLLY_ERR_CONTEXT
        case .emptyPrompt, .invalidRequest: return DOLLY_ERR_INVALID_ARGUMENT
        case .outOfMemory: return DOLLY_ERR_OUT_OF_MEMORY
        }
    case let e as TokenizerError:
        switch e {
        case .tooManyTokens: return DOLLY_ERR_CONTEXT
        case .cancelled: return DOLLY_ERR_INTERNAL  // the C API never asks a tokenizer to cancel
        default: return DOLLY_ERR_BAD_MODEL
        }
    case let e as CheckpointError:
        if case .notFound = e { return DOLLY_ERR_NOT_FOUND }
        return DOLLY_ERR_BAD_MODEL
    case is FormatError, is FileError: return DOLLY_ERR_BAD_MODEL
    case is GrammarError: return DOLLY_ERR_GRAMMAR
    default: return DOLLY_ERR_INTERNAL
    }
}

/// The message of an error: DollyKit's description, one line.
func message(for error: Error) -> String {
    let text = (error as? LocalizedError)?.errorDescription ?? String(describing: error)
    return text.replacing("\n", with: " ")
}
