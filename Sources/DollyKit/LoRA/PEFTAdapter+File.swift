#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension AdapterFile {
    /// What `convert` wrote.
    public struct Summary: Sendable {
        public var matrices: Int
        public var rank: Int
        public var bytes: Int
        public var identity: String
    }

    /// Writes a PEFT adapter (checked against `base` when it was opened) as a `.dolly-lora` file:
    /// every adapted matrix's A and B with PEFT's own scale (alpha / r or alpha / sqrt(r), per module
    /// with rank and alpha patterns), B's query_key_value rows in the `.dolly` order.
    @discardableResult
    public static func convert(_ peft: PEFTAdapter, base: ModelConfig, to path: String, type: ElementType,
                               createdBy: String = "dolly convert-lora") throws -> Summary {
        let deltas = try peft.deltas(layers: base.numHiddenLayers)
        let identity = "peft:\(peft.name) \(peft.weightsFile) crc32 \(peft.identity)"
        try write(deltas, to: path, type: type, base: base, identity: identity, alpha: Double(peft.alpha), rslora: peft.useRSLoRA,
                  createdBy: createdBy)
        let bytes = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
        return Summary(matrices: deltas.count, rank: deltas.map(\.rank).max() ?? 0, bytes: bytes, identity: identity)
    }
}

extension PEFTAdapter {
    /// Every adapted matrix of the first `layers` layers in f32, each with PEFT's own scale times `factor`
    /// (a merge's `--lora-scale`).
    func deltas(layers: Int, factor: Float = 1) throws -> [AdapterDelta] {
        var deltas: [AdapterDelta] = []
        for layer in 0..<layers {
            for target in LoRATarget.allCases {
                guard let p = try pair(layer: layer, target: target) else { continue }
                deltas.append(AdapterDelta(layer: layer, matrix: target.layerTensor, rank: p.rank, a: p.a, b: p.b, scale: factor * p.scale))
            }
        }
        return deltas
    }
}
