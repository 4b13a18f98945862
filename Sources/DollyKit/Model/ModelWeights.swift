#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// How the rows of the fused query/key/value matrix are ordered.
public enum QKVLayout: Sendable {
    /// Hugging Face GPT-NeoX: per head [q(headDim), k(headDim), v(headDim)], heads one after another.
    case perHeadInterleaved
    /// Our converted files: all query rows, then all key rows, then all value rows.
    case split
}

/// One transformer block.
public struct LayerWeights: Sendable {
    public var inputNormWeight: [Float]          // (hidden)
    public var inputNormBias: [Float]            // (hidden)
    public var postAttentionNormWeight: [Float]  // (hidden)
    public var postAttentionNormBias: [Float]    // (hidden)
    public var qkv: WeightMatrix                 // (3*hidden, hidden)
    public var qkvBias: [Float]                  // (3*hidden)
    public var attentionOut: WeightMatrix        // (hidden, hidden)
    public var attentionOutBias: [Float]         // (hidden)
    public var mlpUp: WeightMatrix               // (intermediate, hidden)
    public var mlpUpBias: [Float]                // (intermediate)
    public var mlpDown: WeightMatrix             // (hidden, intermediate)
    public var mlpDownBias: [Float]              // (hidden)

    public init(inputNormWeight: [Float], inputNormBias: [Float], postAttentionNormWeight: [Float],
                postAttentionNormBias: [Float], qkv: WeightMatrix, qkvBias: [Float], attentionOut: WeightMatrix,
                attentionOutBias: [Float], mlpUp: WeightMatrix, mlpUpBias: [Float], mlpDown: WeightMatrix,
                mlpDownBias: [Float]) {
        self.inputNormWeight = inputNormWeight
        self.inputNormBias = inputNormBias
        self.postAttentionNormWeight = postAttentionNormWeight
        self.postAttentionNormBias = postAttentionNormBias
        self.qkv = qkv
        self.qkvBias = qkvBias
        self.attentionOut = attentionOut
        self.attentionOutBias = attentionOutBias
        self.mlpUp = mlpUp
        self.mlpUpBias = mlpUpBias
        self.mlpDown = mlpDown
        self.mlpDownBias = mlpDownBias
    }
}

/// Every weight of a GPT-NeoX network.
public struct ModelWeights: Sendable {
    public var embedIn: WeightMatrix        // (vocab, hidden)
    public var layers: [LayerWeights]       // (layers)
    public var finalNormWeight: [Float]     // (hidden)
    public var finalNormBias: [Float]       // (hidden)
    public var embedOut: WeightMatrix       // (vocab, hidden)
    public var qkvLayout: QKVLayout

    public init(embedIn: WeightMatrix, layers: [LayerWeights], finalNormWeight: [Float], finalNormBias: [Float],
                embedOut: WeightMatrix, qkvLayout: QKVLayout) {
        self.embedIn = embedIn
        self.layers = layers
        self.finalNormWeight = finalNormWeight
        self.finalNormBias = finalNormBias
        self.embedOut = embedOut
        self.qkvLayout = qkvLayout
    }
}

extension ModelWeights {
    /// Hugging Face tensor names of a GPT-NeoX checkpoint (Dolly's published files use these).
    public enum HFName {
        public static let embedIn = "gpt_neox.embed_in.weight"
        public static let finalNormWeight = "gpt_neox.final_layer_norm.weight"
        public static let finalNormBias = "gpt_neox.final_layer_norm.bias"
        public static let embedOut = "embed_out.weight"
        public static func layer(_ i: Int, _ suffix: String) -> String { "gpt_neox.layers.\(i).\(suffix)" }
    }

    /// Binds a Hugging Face checkpoint's tensors in place (weights stay in the mapping; only the
    /// small norm and bias vectors are widened to f32).
    public init(huggingFace source: TensorSource, config c: ModelConfig) throws {
        let h = c.hiddenSize, v = c.vocabSize
        func tensor(_ name: String) throws -> TensorView {
            do { return try source.tensor(named: name) } catch {
                if !source.tensorNames.contains(name) { throw ModelError.missingTensor(name) }
                throw error
            }
        }
        func vector(_ name: String, _ n: Int) throws -> [Float] {
            let t = try tensor(name)
            guard t.dtype.isFloat else { throw ModelError.badTensor(name: name, reason: "dtype \(t.dtype.rawValue) is not float") }
            guard t.shape == [n] else { throw ModelError.badTensor(name: name, reason: "shape \(t.shape), expected [\(n)]") }
            return t.toFloat32()
        }
        func bias(_ name: String, _ n: Int) throws -> [Float] {
            c.attentionBias ? try vector(name, n) : [Float](repeating: 0, count: n)
        }
        func matrix(_ name: String, _ rows: Int, _ cols: Int) throws -> WeightMatrix {
            try WeightMatrix(tensor(name), rows: rows, cols: cols)
        }
        let layers = try (0..<c.numHiddenLayers).map { i in
            try LayerWeights(
                vector: { t in
                    let name = HFName.layer(i, t.huggingFaceSuffix), n = t.shape(c)[0]
                    return t.isAttentionBias ? try bias(name, n) : try vector(name, n)
                },
                matrix: { t in
                    let s = t.shape(c)
                    return try matrix(HFName.layer(i, t.huggingFaceSuffix), s[0], s[1])
                })
        }
        let embedIn = try matrix(HFName.embedIn, v, h)
        self.init(
            embedIn: embedIn,
            layers: layers,
            finalNormWeight: try vector(HFName.finalNormWeight, h),
            finalNormBias: try vector(HFName.finalNormBias, h),
            embedOut: c.tieWordEmbeddings ? embedIn : try matrix(HFName.embedOut, v, h),
            qkvLayout: .perHeadInterleaved)
    }
}
