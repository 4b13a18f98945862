import DollyKit
import Foundation

/// How OpenAI's chat messages become Dolly's prompt. Dolly answers one instruction, optionally with an
/// `Input:` passage (the model card's context prompt), and keeps no history. So:
///  - the last message must be the user's: its text is the instruction;
///  - every message before it becomes the context, in order: system (and developer) messages as plain
///    paragraphs, earlier turns as `User: ...` / `Assistant: ...` paragraphs;
///  - with nothing before it, the plain instruction prompt (no `Input:` section).
enum ChatPrompt {
    static func map(_ messages: [ChatMessage]) throws -> (instruction: String, context: String?) {
        guard let last = messages.last else { throw APIError.invalid("messages must not be empty", param: "messages") }
        guard last.role == "user" else {
            throw APIError.invalid("the last message must be the user's (Dolly answers one instruction)", param: "messages")
        }
        guard let instruction = last.content?.text, !instruction.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw APIError.invalid("the last user message is empty", param: "messages")
        }
        var paragraphs: [String] = []
        for (i, m) in messages.dropLast().enumerated() {
            let text = m.content?.text ?? ""
            switch m.role {
            case "system", "developer": if !text.isEmpty { paragraphs.append(text) }
            case "user": paragraphs.append("User: \(text)")
            case "assistant": paragraphs.append("Assistant: \(text)")
            default: throw APIError.invalid("messages[\(i)].role \"\(m.role)\" is not supported", param: "messages")
            }
        }
        return (instruction, paragraphs.isEmpty ? nil : paragraphs.joined(separator: "\n\n"))
    }
}
