/// Tensor names inside a `.dolly` file (docs/FORMAT.md section 6).
public enum FileTensorName {
    public static let tokenizer = "tokenizer.json"
    public static let embedIn = "embed_in"
    public static let embedOut = "embed_out"
    public static let finalNormWeight = "final_norm.weight"
    public static let finalNormBias = "final_norm.bias"
    public static func layer(_ i: Int, _ suffix: String) -> String { "layers.\(i).\(suffix)" }
}
