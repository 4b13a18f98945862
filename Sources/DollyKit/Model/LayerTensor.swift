/// The tensors of one GPT-NeoX block, in file order: the one table that the Hugging Face loader,
/// the `.dolly` loader, the converter's plan and the weight statistics all walk.
public enum LayerTensor: CaseIterable, Sendable {
    case inputNormWeight, inputNormBias, postAttentionNormWeight, postAttentionNormBias
    case qkv, qkvBias, attentionOut, attentionOutBias
    case mlpUp, mlpUpBias, mlpDown, mlpDownBias

    /// The name after `gpt_neox.layers.{i}.` in a Hugging Face checkpoint.
    public var huggingFaceSuffix: String {
        switch self {
        case .inputNormWeight: return "input_layernorm.weight"
        case .inputNormBias: return "input_layernorm.bias"
        case .postAttentionNormWeight: return "post_attention_layernorm.weight"
        case .postAttentionNormBias: return "post_attention_layernorm.bias"
        case .qkv: return "attention.query_key_value.weight"
        case .qkvBias: return "attention.query_key_value.bias"
        case .attentionOut: return "attention.dense.weight"
        case .attentionOutBias: return "attention.dense.bias"
        case .mlpUp: return "mlp.dense_h_to_4h.weight"
        case .mlpUpBias: return "mlp.dense_h_to_4h.bias"
        case .mlpDown: return "mlp.dense_4h_to_h.weight"
        case .mlpDownBias: return "mlp.dense_4h_to_h.bias"
        }
    }

    /// The name after `layers.{i}.` in a `.dolly` file (docs/FORMAT.md section 6).
    public var fileSuffix: String {
        switch self {
        case .inputNormWeight: return "input_norm.weight"
        case .inputNormBias: return "input_norm.bias"
        case .postAttentionNormWeight: return "post_attention_norm.weight"
        case .postAttentionNormBias: return "post_attention_norm.bias"
        case .qkv: return "attention.qkv.weight"
        case .qkvBias: return "attention.qkv.bias"
        case .attentionOut: return "attention.out.weight"
        case .attentionOutBias: return "attention.out.bias"
        case .mlpUp: return "mlp.up.weight"
        case .mlpUpBias: return "mlp.up.bias"
        case .mlpDown: return "mlp.down.weight"
        case .mlpDownBias: return "mlp.down.bias"
        }
    }

    /// [rows, cols] for matrices, [count] for vectors.
    public func shape(_ c: ModelConfig) -> [Int] {
        let h = c.hiddenSize, ff = c.intermediateSize
        switch self {
        case .inputNormWeight, .inputNormBias, .postAttentionNormWeight, .postAttentionNormBias,
             .attentionOutBias, .mlpDownBias: return [h]
        case .qkv: return [3 * h, h]
        case .qkvBias: return [3 * h]
        case .attentionOut: return [h, h]
        case .mlpUp: return [ff, h]
        case .mlpUpBias: return [ff]
        case .mlpDown: return [h, ff]
        }
    }

    /// Absent from checkpoints whose config says `attention_bias: false` (zeros then).
    public var isAttentionBias: Bool { self == .qkvBias || self == .attentionOutBias }

    /// Rows the converter reorders from Hugging Face's per-head interleaving to [Q; K; V].
    public var followsQKVRows: Bool { self == .qkv || self == .qkvBias }

    /// Where a matrix lives in `LayerWeights`; nil for vectors.
    public var matrix: KeyPath<LayerWeights, WeightMatrix>? {
        switch self {
        case .qkv: return \.qkv
        case .attentionOut: return \.attentionOut
        case .mlpUp: return \.mlpUp
        case .mlpDown: return \.mlpDown
        default: return nil
        }
    }

    /// Where a vector lives in `LayerWeights`; nil for matrices.
    public var vector: KeyPath<LayerWeights, [Float]>? {
        switch self {
        case .inputNormWeight: return \.inputNormWeight
        case .inputNormBias: return \.inputNormBias
        case .postAttentionNormWeight: return \.postAttentionNormWeight
        case .postAttentionNormBias: return \.postAttentionNormBias
        case .qkvBias: return \.qkvBias
        case .attentionOutBias: return \.attentionOutBias
        case .mlpUpBias: return \.mlpUpBias
        case .mlpDownBias: return \.mlpDownBias
        default: return nil
        }
    }
}

extension LayerWeights {
    /// A block built tensor by tensor from the table (each loader says how to read one).
    public init(vector: (LayerTensor) throws -> [Float], matrix: (LayerTensor) throws -> WeightMatrix) rethrows {
        self.init(inputNormWeight: try vector(.inputNormWeight), inputNormBias: try vector(.inputNormBias),
                  postAttentionNormWeight: try vector(.postAttentionNormWeight),
                  postAttentionNormBias: try vector(.postAttentionNormBias),
                  qkv: try matrix(.qkv), qkvBias: try vector(.qkvBias),
                  attentionOut: try matrix(.attentionOut), attentionOutBias: try vector(.attentionOutBias),
                  mlpUp: try matrix(.mlpUp), mlpUpBias: try vector(.mlpUpBias),
                  mlpDown: try matrix(.mlpDown), mlpDownBias: try vector(.mlpDownBias))
    }
}
