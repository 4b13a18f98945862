/// The four matrices of a GPT-NeoX block a LoRA adapter can change, by the module names PEFT's
/// `target_modules` uses.
public enum LoRATarget: String, CaseIterable, Sendable, Codable {
    case queryKeyValue = "query_key_value"
    case dense
    case denseHToFourH = "dense_h_to_4h"
    case denseFourHToH = "dense_4h_to_h"

    /// The module's path below `gpt_neox.layers.{i}.` in Hugging Face's model (and PEFT's keys).
    public var modulePath: String {
        switch self {
        case .queryKeyValue: return "attention.query_key_value"
        case .dense: return "attention.dense"
        case .denseHToFourH: return "mlp.dense_h_to_4h"
        case .denseFourHToH: return "mlp.dense_4h_to_h"
        }
    }

    /// The layer tensor whose weight it changes.
    public var layerTensor: LayerTensor {
        switch self {
        case .queryKeyValue: return .qkv
        case .dense: return .attentionOut
        case .denseHToFourH: return .mlpUp
        case .denseFourHToH: return .mlpDown
        }
    }

    public init?(layerTensor: LayerTensor) {
        guard let t = Self.allCases.first(where: { $0.layerTensor == layerTensor }) else { return nil }
        self = t
    }

    /// [outputs, inputs] of the matrix in `config`'s model (PyTorch's Linear layout: row r is output r).
    public func shape(_ config: ModelConfig) -> (outputs: Int, inputs: Int) {
        let s = layerTensor.shape(config)
        return (s[0], s[1])
    }

    /// PEFT's module key (what rank_pattern and target_modules are matched against).
    func moduleKey(layer: Int) -> String { "gpt_neox.layers.\(layer).\(modulePath)" }
}

/// One adapted matrix: the update is `scale · B · A`, added to the weight W [outputs, inputs].
public struct LoRAPair: Sendable {
    public let rank: Int
    public let inputs: Int
    public let outputs: Int
    /// rank x inputs, row-major (PEFT's lora_A.weight).
    public let a: [Float]
    /// outputs x rank, row-major (PEFT's lora_B.weight), in Hugging Face's row order (query_key_value's
    /// rows interleaved per head).
    public let b: [Float]
    /// lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora: the adapter's own, without a user's scale.
    public let scale: Float

    public init(rank: Int, inputs: Int, outputs: Int, a: [Float], b: [Float], scale: Float) {
        precondition(a.count == rank * inputs && b.count == outputs * rank, "LoRAPair: sizes disagree")
        self.rank = rank
        self.inputs = inputs
        self.outputs = outputs
        self.a = a
        self.b = b
        self.scale = scale
    }
}
