#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Everything that can go wrong while loading a tokenizer.json, and the two ways an encoding with a
/// budget stops (`Tokenizer.encode(_:atMost:isCancelled:)`). Otherwise encoding and decoding never
/// throw: any String is encodable and any id list decodes (unknown ids are skipped, bad UTF-8 becomes U+FFFD).
public enum TokenizerError: LocalizedError, Equatable {
    case cannotRead(path: String, reason: String)
    case malformedJSON(String)
    case missingKey(String)
    case wrongType(key: String, expected: String)
    case unsupportedModel(String)
    case unsupportedComponent(key: String, value: String)
    case invalidMerge(index: Int, reason: String)
    case invalidAddedToken(String)
    case badTokenId(id: Int, entries: Int)
    /// The text makes at least `atLeast` tokens, more than `limit`.
    case tooManyTokens(atLeast: Int, limit: Int)
    case cancelled

    public var errorDescription: String? {
        switch self {
        case let .tooManyTokens(atLeast, limit):
            return "the text has at least \(atLeast) tokens, more than \(limit)"
        case .cancelled:
            return "tokenization was cancelled"
        case let .badTokenId(id, entries):
            return "tokenizer.json: token id \(id) is out of range for a vocabulary of \(entries) entries"
        case let .cannotRead(path, reason):
            return "cannot read tokenizer file \(path): \(reason)"
        case let .malformedJSON(reason):
            return "tokenizer.json is not valid JSON: \(reason)"
        case let .missingKey(key):
            return "tokenizer.json has no \"\(key)\""
        case let .wrongType(key, expected):
            return "tokenizer.json: \"\(key)\" should be \(expected)"
        case let .unsupportedModel(type):
            return "tokenizer.json describes a \(type) model; only byte-level BPE (GPT-2/GPT-NeoX style) is supported"
        case let .unsupportedComponent(key, value):
            return "tokenizer.json: \(key) \(value) is not supported; this tokenizer handles byte-level BPE with an optional NFC normalizer"
        case let .invalidMerge(index, reason):
            return "tokenizer.json: merge #\(index) is invalid: \(reason)"
        case let .invalidAddedToken(reason):
            return "tokenizer.json: invalid added token: \(reason)"
        }
    }
}
