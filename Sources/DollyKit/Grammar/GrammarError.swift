#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Everything that can be wrong with a grammar or a JSON schema. Both are untrusted input (a file
/// on the command line, later an HTTP request), so every problem is one of these, never a trap.
public enum GrammarError: Error, Equatable, LocalizedError {
    /// GBNF that does not parse, at a 1-based line and column.
    case syntax(line: Int, column: Int, message: String)
    /// A rule used but never defined.
    case unknownRule(name: String, line: Int, column: Int)
    /// A rule defined twice.
    case duplicateRule(name: String, line: Int, column: Int)
    /// No `root` rule.
    case missingRoot
    /// A rule that can reach itself without consuming a character (the recognizer would loop).
    case leftRecursion(rule: String)
    /// A grammar whose language is empty (or a rule that can never finish).
    case emptyLanguage(rule: String)
    /// Repetitions or rules that expand past the engine's size limit.
    case tooLarge(String)
    /// A JSON schema that is not valid JSON, or not an object where one is needed.
    case invalidSchema(path: String, message: String)
    /// A JSON Schema keyword (or a value of one) that the compiler does not support.
    case unsupportedKeyword(path: String, keyword: String)
    /// A `$ref` that points nowhere, or into a loop.
    case badReference(path: String, reference: String, message: String)

    public var errorDescription: String? {
        switch self {
        case let .syntax(line, column, message): return "grammar:\(line):\(column): \(message)"
        case let .unknownRule(name, line, column): return "grammar:\(line):\(column): unknown rule '\(name)'"
        case let .duplicateRule(name, line, column): return "grammar:\(line):\(column): rule '\(name)' is defined twice"
        case .missingRoot: return "grammar: no 'root' rule"
        case let .leftRecursion(rule): return "grammar: rule '\(rule)' is left-recursive (it can reach itself without consuming input)"
        case let .emptyLanguage(rule): return "grammar: rule '\(rule)' matches nothing"
        case let .tooLarge(what): return "grammar: too large: \(what)"
        case let .invalidSchema(path, message): return "JSON schema at \(path): \(message)"
        case let .unsupportedKeyword(path, keyword): return "JSON schema at \(path): unsupported keyword '\(keyword)'"
        case let .badReference(path, reference, message): return "JSON schema at \(path): $ref '\(reference)': \(message)"
        }
    }
}
