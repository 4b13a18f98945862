import DollyKit
import Foundation

/// How OpenAI's chat messages become Dolly's prompt. Dolly answers one instruction, optionally with an
/// `Input:` passage (the model card's context prompt), and keeps no history. So:
///  - the instruction is the last user message, which must be the last message or be followed only
///    by the tool calls it caused and their results;
///  - every other message becomes the context, in order: the tools paragraph first (when tools may
///    be called), system (and developer) messages as plain paragraphs, earlier turns as `User: ...` /
///    `Assistant: ...` paragraphs, calls as `Assistant called NAME with ARGS`, results as
///    `Result of NAME: ...`;
///  - with nothing else, the plain instruction prompt (no `Input:` section).
/// Earlier messages always render the same way, so turn N's prompt begins with turn N-1's context.
enum ChatPrompt {
    static func map(_ messages: [ChatMessage], toolsContext: String? = nil) throws -> (instruction: String, context: String?) {
        guard let lastUser = messages.lastIndex(where: { $0.role == "user" }) else {
            throw APIError.invalid("messages must hold a user message (Dolly answers one instruction)", param: "messages")
        }
        for (i, m) in messages.enumerated().dropFirst(lastUser + 1) where m.role != "tool" && !(m.role == "assistant" && m.toolCalls != nil) {
            throw APIError.invalid("messages[\(i)]: after the last user message only tool calls and their results may follow",
                                   param: "messages")
        }
        guard let instruction = messages[lastUser].content?.text, !instruction.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw APIError.invalid("the last user message is empty", param: "messages")
        }
        var paragraphs: [String] = toolsContext.map { [$0] } ?? []
        var callNames: [String: String] = [:]  // tool_call_id → function name
        for (i, m) in messages.enumerated() where i != lastUser {
            let text = m.content?.text ?? ""
            switch m.role {
            case "system", "developer": if !text.isEmpty { paragraphs.append(text) }
            case "user": paragraphs.append("User: \(text)")
            case "assistant":
                if !text.isEmpty || m.toolCalls == nil { paragraphs.append("Assistant: \(text)") }
                for call in m.toolCalls ?? [] {
                    if let id = call.id { callNames[id] = call.function.name }
                    paragraphs.append("Assistant called \(call.function.name) with \(call.function.arguments)")
                }
            case "tool":
                let name = m.toolCallId.flatMap { callNames[$0] } ?? m.name ?? "a function"
                paragraphs.append("Result of \(name): \(text)")
            default: throw APIError.invalid("messages[\(i)].role \"\(m.role)\" is not supported", param: "messages")
            }
        }
        return (instruction, paragraphs.isEmpty ? nil : paragraphs.joined(separator: "\n\n"))
    }
}
