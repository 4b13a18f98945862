import DollyKit
import Foundation

/// One message of a chat history, as either API writes it (OpenAI's and Ollama's messages both map here).
struct ChatTurn: Sendable {
    var role: String
    var text: String
    /// An assistant message's calls: name and arguments as JSON text.
    var calls: [(id: String?, name: String, arguments: String)] = []
    /// A tool message's call id (OpenAI) or function name (Ollama).
    var callID: String?
    var toolName: String?
}

/// How a chat history becomes Dolly's prompt. Dolly answers one instruction, optionally with an
/// `Input:` passage (the model card's context prompt), and reads the instruction first, so:
///  - each user message opens an exchange; the assistant message after it is its answer; the last
///    user message is the instruction to answer now (only the calls it caused and their results may
///    follow it);
///  - earlier exchanges are written as Dolly's training records, one after another
///    (`DollyPrompt.conversation`), so turn N's prompt begins with turn N-1's prompt and answer and
///    a slot's cache of them is reused;
///  - an exchange's `Input:` holds, as paragraphs in order: the tools paragraph (first exchange, when
///    tools may be called), system (and developer) messages given before or during it, unanswered
///    user messages before it as `User: ...`, and its calls (`Assistant called NAME with ARGS`) and
///    results (`Result of NAME: ...`);
///  - with none of these, the plain instruction prompt (no `Input:` section).
/// Earlier messages always render the same way, so a history that grows by whole turns keeps its prefix.
/// When the whole does not fit the context, the oldest exchanges are left out (`text(dropping:)`).
struct ChatPrompt: Sendable {
    var exchanges: [DollyExchange]
    var instruction: String
    var context: String?

    /// The prompt without the `dropping` oldest exchanges.
    func text(dropping: Int = 0) -> String {
        DollyPrompt.conversation(Array(exchanges.dropFirst(dropping)), instruction: instruction, context: context)
    }

    init(_ turns: [ChatTurn], toolsContext: String? = nil) throws {
        guard let lastUser = turns.lastIndex(where: { $0.role == "user" }) else {
            throw APIError.invalid("messages must hold a user message (Dolly answers one instruction)", param: "messages")
        }
        for (i, m) in turns.enumerated().dropFirst(lastUser + 1) where m.role != "tool" && !(m.role == "assistant" && !m.calls.isEmpty) {
            throw APIError.invalid("messages[\(i)]: after the last user message only tool calls and their results may follow",
                                   param: "messages")
        }
        guard !turns[lastUser].text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw APIError.invalid("the last user message is empty", param: "messages")
        }
        var exchanges: [DollyExchange] = []
        var open: (instruction: String, paragraphs: [String])?  // the exchange awaiting its answer
        var pending: [String] = toolsContext.map { [$0] } ?? []  // paragraphs for the next exchange
        var callNames: [String: String] = [:]  // tool_call_id → function name
        func context(_ paragraphs: [String]) -> String? { paragraphs.isEmpty ? nil : paragraphs.joined(separator: "\n\n") }
        func note(_ paragraph: String) {
            if open != nil { open!.paragraphs.append(paragraph) } else { pending.append(paragraph) }
        }
        for (i, m) in turns.enumerated() {
            switch m.role {
            case "system", "developer": if !m.text.isEmpty { note(m.text) }
            case "user":
                if let o = open {  // asked again without an answer: the earlier question becomes context
                    pending = o.paragraphs + ["User: \(o.instruction)"]
                }
                open = (m.text, pending)
                pending = []
            case "assistant":
                for call in m.calls {
                    if let id = call.id { callNames[id] = call.name }
                    note("Assistant called \(call.name) with \(call.arguments)")
                }
                guard m.calls.isEmpty || !m.text.isEmpty else { continue }
                if let o = open {
                    exchanges.append(DollyExchange(instruction: o.instruction, context: context(o.paragraphs), answer: m.text))
                    open = nil
                } else {
                    pending.append("Assistant: \(m.text)")  // e.g. a greeting before the first question
                }
            case "tool":
                let name = m.callID.flatMap { callNames[$0] } ?? m.toolName ?? "a function"
                note("Result of \(name): \(m.text)")
            default: throw APIError.invalid("messages[\(i)].role \"\(m.role)\" is not supported", param: "messages")
            }
        }
        // The checks above make the last user message the open exchange.
        let now = open!
        self.exchanges = exchanges
        instruction = now.instruction
        self.context = context(now.paragraphs)
    }
}

extension ChatMessage {
    var turn: ChatTurn {
        ChatTurn(role: role, text: content?.text ?? "",
                 calls: (toolCalls ?? []).map { ($0.id, $0.function.name, $0.function.arguments) },
                 callID: toolCallId, toolName: name)
    }
}
