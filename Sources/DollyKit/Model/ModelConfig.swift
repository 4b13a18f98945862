#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Hyperparameters of a GPT-NeoX model, mirroring Hugging Face's `config.json`.
/// Reads both Dolly's original key style (`rotary_pct`, `rotary_emb_base`) and transformers 5's
/// (`rope_parameters.partial_rotary_factor`, `rope_parameters.rope_theta`).
public struct ModelConfig: Codable, Sendable, Equatable {
    public enum Activation: String, Sendable {
        case gelu          // exact erf GELU: what Dolly uses
    }

    public var modelType: String
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var vocabSize: Int
    public var maxPositionEmbeddings: Int
    public var rotaryPct: Double
    public var rotaryBase: Double
    public var layerNormEps: Double
    public var useParallelResidual: Bool
    public var activation: Activation
    public var tieWordEmbeddings: Bool
    public var attentionBias: Bool
    public var bosTokenId: Int
    public var eosTokenId: Int

    public var headDim: Int { hiddenSize / numAttentionHeads }
    /// Dimensions of each head that get rotary embedding (even; the rest pass through).
    public var rotaryDims: Int { Int(Double(headDim) * rotaryPct) }

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case hiddenSize = "hidden_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case intermediateSize = "intermediate_size"
        case vocabSize = "vocab_size"
        case maxPositionEmbeddings = "max_position_embeddings"
        case rotaryPct = "rotary_pct"
        case rotaryEmbBase = "rotary_emb_base"
        case ropeTheta = "rope_theta"
        case ropeParameters = "rope_parameters"
        case layerNormEps = "layer_norm_eps"
        case useParallelResidual = "use_parallel_residual"
        case hiddenAct = "hidden_act"
        case tieWordEmbeddings = "tie_word_embeddings"
        case attentionBias = "attention_bias"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
    }

    struct RopeParameters: Decodable {
        var ropeTheta: Double?
        var partialRotaryFactor: Double?
        var ropeType: String?
        enum CodingKeys: String, CodingKey {
            case ropeTheta = "rope_theta"
            case partialRotaryFactor = "partial_rotary_factor"
            case ropeType = "rope_type"
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? "gpt_neox"
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        // 4 * hidden_size can overflow for absurd inputs; validate() then reports hidden_size.
        let fourHidden = hiddenSize.multipliedReportingOverflow(by: 4)
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? (fourHidden.overflow ? 0 : fourHidden.partialValue)
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 2048
        let rope = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)
        if let type = rope?.ropeType, type != "default" {
            throw ModelError.unsupported("rope_type \(type)")
        }
        rotaryPct = try c.decodeIfPresent(Double.self, forKey: .rotaryPct) ?? rope?.partialRotaryFactor ?? 0.25
        rotaryBase = try c.decodeIfPresent(Double.self, forKey: .rotaryEmbBase)
            ?? rope?.ropeTheta ?? c.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? 10000
        layerNormEps = try c.decodeIfPresent(Double.self, forKey: .layerNormEps) ?? 1e-5
        useParallelResidual = try c.decodeIfPresent(Bool.self, forKey: .useParallelResidual) ?? true
        let act = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "gelu"
        guard let a = Activation(rawValue: act) else { throw ModelError.unsupported("hidden_act \(act)") }
        activation = a
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false
        attentionBias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? true
        bosTokenId = try c.decodeIfPresent(Int.self, forKey: .bosTokenId) ?? 0
        eosTokenId = try c.decodeIfPresent(Int.self, forKey: .eosTokenId) ?? 0
        try validate()
    }

    public init(hiddenSize: Int, numHiddenLayers: Int, numAttentionHeads: Int, intermediateSize: Int,
                vocabSize: Int, maxPositionEmbeddings: Int, rotaryPct: Double, rotaryBase: Double,
                layerNormEps: Double, useParallelResidual: Bool, tieWordEmbeddings: Bool = false,
                attentionBias: Bool = true, bosTokenId: Int = 0, eosTokenId: Int = 0) throws {
        modelType = "gpt_neox"
        self.hiddenSize = hiddenSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.intermediateSize = intermediateSize
        self.vocabSize = vocabSize
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.rotaryPct = rotaryPct
        self.rotaryBase = rotaryBase
        self.layerNormEps = layerNormEps
        self.useParallelResidual = useParallelResidual
        activation = .gelu
        self.tieWordEmbeddings = tieWordEmbeddings
        self.attentionBias = attentionBias
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        try validate()
    }

    /// Writes the original Dolly key style (what `.dolly` files store under "model").
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(modelType, forKey: .modelType)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(rotaryPct, forKey: .rotaryPct)
        try c.encode(rotaryBase, forKey: .rotaryEmbBase)
        try c.encode(layerNormEps, forKey: .layerNormEps)
        try c.encode(useParallelResidual, forKey: .useParallelResidual)
        try c.encode(activation.rawValue, forKey: .hiddenAct)
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encode(attentionBias, forKey: .attentionBias)
        try c.encode(bosTokenId, forKey: .bosTokenId)
        try c.encode(eosTokenId, forKey: .eosTokenId)
    }

    public static func load(from url: URL) throws -> ModelConfig {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ModelError.missingFile(url.path)
        }
        return try decode(data)
    }

    public static func decode(_ data: Data) throws -> ModelConfig {
        do {
            return try JSONDecoder().decode(ModelConfig.self, from: data)
        } catch let error as ModelError {
            throw error
        } catch let DecodingError.keyNotFound(key, _) {
            throw ModelError.badConfig("missing required key \"\(key.stringValue)\"")
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx) {
            let path = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            throw ModelError.badConfig("wrong type for \"\(path)\"")
        } catch {
            throw ModelError.badConfig("not valid JSON")
        }
    }

    private func validate() throws {
        guard modelType == "gpt_neox" else { throw ModelError.unsupported("model_type \(modelType) (expected gpt_neox)") }
        func positive(_ v: Int, _ name: String, max: Int = 1 << 20) throws {
            guard v > 0, v <= max else { throw ModelError.badConfig("\(name) = \(v) is out of range") }
        }
        try positive(hiddenSize, "hidden_size", max: 1 << 16)
        try positive(numHiddenLayers, "num_hidden_layers", max: 1024)
        try positive(numAttentionHeads, "num_attention_heads", max: 1024)
        try positive(intermediateSize, "intermediate_size")
        try positive(vocabSize, "vocab_size", max: 1 << 24)
        try positive(maxPositionEmbeddings, "max_position_embeddings")
        guard hiddenSize % numAttentionHeads == 0 else {
            throw ModelError.badConfig("hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
        }
        guard rotaryPct >= 0, rotaryPct <= 1, rotaryDims % 2 == 0 else {
            throw ModelError.badConfig("rotary fraction \(rotaryPct) gives an odd or out-of-range rotary width")
        }
        guard rotaryBase > 0, rotaryBase.isFinite else { throw ModelError.badConfig("rotary base \(rotaryBase) must be positive") }
        guard layerNormEps > 0, layerNormEps.isFinite else { throw ModelError.badConfig("layer_norm_eps must be positive") }
    }
}
