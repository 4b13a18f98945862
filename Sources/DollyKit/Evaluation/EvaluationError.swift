#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Errors of perplexity, divergence, greedy comparison and multiple-choice scoring. They describe
/// the values involved; the command line maps them to its flags.
public enum EvaluationError: LocalizedError, Equatable {
    /// A scoring window shorter than 2 tokens.
    case windowTooSmall(Int)
    /// A scoring window longer than a session's context.
    case windowExceedsSession(window: Int, session: Int)
    /// The text is shorter than one window.
    case textTooShort(tokens: Int, window: Int)
    /// The prompt and the tokens to generate don't fit the session.
    case promptExceedsContext(prompt: Int, newTokens: Int, context: Int)
    /// The model and its reference can't be compared position by position.
    case referenceMismatch(String)
    /// A model whose vocabulary has fewer than two tokens has no runner-up to measure a margin against.
    case vocabularyTooSmall(Int)
    /// A line of an evaluation file that is not a usable item.
    case badItem(path: String, line: Int, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .windowTooSmall(n): return "a scoring window of \(n) tokens is too small (at least 2)"
        case let .windowExceedsSession(window, session):
            return "a scoring window of \(window) tokens exceeds the session's context of \(session)"
        case let .textTooShort(tokens, window):
            return "the text has \(tokens) tokens, fewer than one scoring window of \(window)"
        case let .promptExceedsContext(prompt, newTokens, context):
            return "the prompt (\(prompt) tokens) and \(newTokens) new tokens exceed the context (\(context))"
        case let .referenceMismatch(what): return "the reference model \(what)"
        case let .vocabularyTooSmall(n): return "a vocabulary of \(n) has no second choice"
        case let .badItem(path, line, reason): return "\(path):\(line): \(reason)"
        }
    }
}
