import DollyKit

/// Turns generated text into what chat sends: plain content, or, when tools may be called and the
/// model called one, OpenAI's `tool_calls` (streamed as an id-and-name delta, then argument fragments)
/// with `finish_reason: "tool_calls"`.
struct ChatAnswer: Sendable {
    private var reader: ToolCallReader?
    /// OpenAI's shape: `call_` and 24 characters.
    let callID = "call_" + RequestMapping.newID("").dropFirst()

    init(callsTools: Bool) {
        reader = callsTools ? ToolCallReader() : nil
    }

    /// The deltas `text` (the next generated piece) completes; none while a call's header is read.
    mutating func deltas(_ text: String) -> [ChatDelta] {
        guard reader != nil else { return text.isEmpty ? [] : [ChatDelta(content: text)] }
        return reader!.feed(text).map { event in
            switch event {
            case let .text(t): return ChatDelta(content: t)
            case let .name(n):
                return ChatDelta(toolCalls: [ToolCallDelta(id: callID, type: "function", function: .init(name: n, arguments: ""))])
            case let .arguments(a): return ChatDelta(toolCalls: [ToolCallDelta(function: .init(arguments: a))])
            }
        }
    }

    var isCall: Bool { reader?.isComplete == true }

    func finishReason(_ reason: StopReason) -> String {
        // A whole call ends the answer whatever ended generation (the grammar, a stop token).
        isCall && RequestMapping.finishReason(reason) == "stop" ? "tool_calls" : RequestMapping.finishReason(reason)
    }

    /// The whole answer's message: a call when the text is a complete one, else the text.
    mutating func message(_ text: String) -> ChatMessageOut {
        _ = deltas(text)
        guard isCall, let reader else { return ChatMessageOut(content: text) }
        return ChatMessageOut(content: nil, toolCalls: [ToolCallOut(id: callID, function: .init(name: reader.name ?? "",
                                                                                             arguments: reader.arguments))])
    }
}
