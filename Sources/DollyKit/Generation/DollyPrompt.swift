/// Dolly's instruction format, as databrickslabs/dolly's `training/consts.py` defines it (the same
/// text is in `instruct_pipeline.py` of every dolly-v2 model repository): intro, blank line,
/// instruction key and instruction, blank line, response key.
public enum DollyPrompt {
    public static let intro =
        "Below is an instruction that describes a task. Write a response that appropriately completes the request."
    public static let instructionKey = "### Instruction:"
    public static let inputKey = "Input:"
    public static let responseKey = "### Response:"
    public static let endKey = "### End"

    /// The prompt for one instruction; the model's answer follows it. With `context` the
    /// instruction becomes `{instruction}\n\nInput:\n{context}`, as the model card passes context
    /// (which is `PROMPT_WITH_INPUT_FORMAT`, the format Dolly was trained on for closed QA,
    /// information extraction and summarization).
    public static func format(instruction: String, context: String? = nil) -> String {
        let body = context.map { "\(instruction)\n\n\(inputKey)\n\($0)" } ?? instruction
        return "\(intro)\n\n\(instructionKey)\n\(body)\n\n\(responseKey)\n"
    }
}

/// One answered instruction of a conversation, as it is shown to the model again in later turns.
public struct DollyExchange: Sendable, Equatable {
    public var instruction: String
    public var context: String?
    public var answer: String

    public init(instruction: String, context: String? = nil, answer: String) {
        self.instruction = instruction
        self.context = context
        self.answer = answer
    }
}

extension DollyPrompt {
    /// Dolly keeps no history, and it reads its instruction before its `Input:`, so a new turn
    /// cannot go at the end of an earlier prompt's context without changing that prompt's start.
    /// Instead earlier exchanges are written as the training records they would be
    /// (`training/consts.py`'s prompt, the answer, a blank line and `### End`, which is what the
    /// model generated), one after another and a blank line apart, followed by this turn's prompt.
    /// Turn N's prompt therefore begins with turn N-1's prompt and answer, byte for byte: a cache
    /// holding those tokens is reused for all but the new turn.
    public static func conversation(_ earlier: [DollyExchange], instruction: String, context: String? = nil) -> String {
        var text = ""
        for e in earlier { text += record(e) }
        return text + format(instruction: instruction, context: context)
    }

    /// An answered exchange as a training record, with the blank line that separates it from the next.
    public static func record(_ e: DollyExchange) -> String {
        format(instruction: e.instruction, context: e.context) + e.answer + "\n\n" + endKey + "\n\n"
    }
}
