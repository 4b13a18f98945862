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
