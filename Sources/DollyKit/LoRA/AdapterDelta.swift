#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One adapted layer matrix as a trainer hands it over, in f32: delta W = scale · B · A. What
/// `AdapterFile.write` encodes (from a PEFT adapter in `dolly convert-lora`, or built in memory).
public struct AdapterDelta: Sendable {
    public var layer: Int
    /// `.qkv`, `.attentionOut`, `.mlpUp` or `.mlpDown`.
    public var matrix: LayerTensor
    public var rank: Int
    /// (rank, inputs), row-major.
    public var a: [Float]
    /// (outputs, rank), row-major, outputs in Hugging Face's order (per-head interleaved q/k/v for `.qkv`).
    public var b: [Float]
    /// PEFT's alpha / r (or alpha / sqrt(r) with rsLoRA).
    public var scale: Float

    public init(layer: Int, matrix: LayerTensor, rank: Int, a: [Float], b: [Float], scale: Float) {
        self.layer = layer
        self.matrix = matrix
        self.rank = rank
        self.a = a
        self.b = b
        self.scale = scale
    }

    /// The four layer matrices an adapter may change, in the order adapters keep them.
    public static let matrices: [LayerTensor] = [.qkv, .attentionOut, .mlpUp, .mlpDown]

    /// The matrix's name in `.dolly-lora` tensor names (`layers.{i}.<name>.lora_a`).
    static func fileName(_ m: LayerTensor) -> String? {
        switch m {
        case .qkv: return "attention.qkv"
        case .attentionOut: return "attention.out"
        case .mlpUp: return "mlp.up"
        case .mlpDown: return "mlp.down"
        default: return nil
        }
    }

    /// PEFT's `target_modules` name.
    public static func peftName(_ m: LayerTensor) -> String? {
        switch m {
        case .qkv: return "query_key_value"
        case .attentionOut: return "dense"
        case .mlpUp: return "dense_h_to_4h"
        case .mlpDown: return "dense_4h_to_h"
        default: return nil
        }
    }

    /// delta W (outputs, inputs) in f32, Hugging Face's row order: what a merge adds to the base.
    public func merged() -> [Float] {
        let inputs = a.count / max(rank, 1), outputs = b.count / max(rank, 1)
        var w = [Float](repeating: 0, count: outputs * inputs)
        for r in 0..<outputs {
            for k in 0..<rank {
                let bk = scale * b[r * rank + k]
                if bk == 0 { continue }
                for c in 0..<inputs { w[r * inputs + c] += bk * a[k * inputs + c] }
            }
        }
        return w
    }
}
