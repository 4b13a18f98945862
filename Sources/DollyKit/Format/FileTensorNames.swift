/// Tensor names inside a `.dolly` file (docs/FORMAT.md section 6).
public enum FileTensorName {
    public static let tokenizer = "tokenizer.json"
    public static let embedIn = "embed_in"
    public static let embedOut = "embed_out"
    public static let finalNormWeight = "final_norm.weight"
    public static let finalNormBias = "final_norm.bias"
    public static func layer(_ i: Int, _ suffix: String) -> String { "layers.\(i).\(suffix)" }
}

extension ModelWeights {
    /// Binds the weights of a `.dolly` file in place.
    public init(file: DollyFile) throws {
        let c = file.config
        let h = c.hiddenSize, ff = c.intermediateSize, v = c.vocabSize
        var layers: [LayerWeights] = []
        for i in 0..<c.numHiddenLayers {
            let n = { (s: String) in FileTensorName.layer(i, s) }
            layers.append(LayerWeights(
                inputNormWeight: try file.vector(n("input_norm.weight"), count: h),
                inputNormBias: try file.vector(n("input_norm.bias"), count: h),
                postAttentionNormWeight: try file.vector(n("post_attention_norm.weight"), count: h),
                postAttentionNormBias: try file.vector(n("post_attention_norm.bias"), count: h),
                qkv: try file.matrix(n("attention.qkv.weight"), rows: 3 * h, cols: h),
                qkvBias: try file.vector(n("attention.qkv.bias"), count: 3 * h),
                attentionOut: try file.matrix(n("attention.out.weight"), rows: h, cols: h),
                attentionOutBias: try file.vector(n("attention.out.bias"), count: h),
                mlpUp: try file.matrix(n("mlp.up.weight"), rows: ff, cols: h),
                mlpUpBias: try file.vector(n("mlp.up.bias"), count: ff),
                mlpDown: try file.matrix(n("mlp.down.weight"), rows: h, cols: ff),
                mlpDownBias: try file.vector(n("mlp.down.bias"), count: h)))
        }
        self.init(
            embedIn: try file.matrix(FileTensorName.embedIn, rows: v, cols: h),
            layers: layers,
            finalNormWeight: try file.vector(FileTensorName.finalNormWeight, count: h),
            finalNormBias: try file.vector(FileTensorName.finalNormBias, count: h),
            embedOut: try file.matrix(FileTensorName.embedOut, rows: v, cols: h),
            qkvLayout: .split)
    }
}
