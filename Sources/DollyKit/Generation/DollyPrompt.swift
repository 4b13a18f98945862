/// Dolly's instruction format, as databrickslabs/dolly's `instruct_pipeline.py` builds it.
public enum DollyPrompt {
    public static let intro =
        "Below is an instruction that describes a task. Write a response that appropriately completes the request."
    public static let instructionKey = "### Instruction:"
    public static let responseKey = "### Response:"
    public static let endKey = "### End"

    /// The prompt for one instruction; the model's answer follows it.
    public static func format(instruction: String) -> String {
        "\(intro)\n\(instructionKey)\n\(instruction)\n\(responseKey)\n"
    }
}
