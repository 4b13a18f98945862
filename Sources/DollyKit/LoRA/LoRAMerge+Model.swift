import CSIMD
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// f32 matrices made in memory (a merged layer matrix), kept alive by the WeightMatrix that points into them.
final class MergedMatrixStorage: @unchecked Sendable {
    let values: UnsafeMutablePointer<Float>
    init(count: Int) { values = .allocate(capacity: count) }
    deinit { values.deallocate() }
}

extension ModelWeights {
    /// These weights with an adapter folded into every matrix it changes, each merged matrix held in f32
    /// in memory (what `dolly imatrix --lora` measures, so calibration sees the model the conversion
    /// will write). The others stay where they are. Works on Hugging Face's row order and on a `.dolly`
    /// file's split query/key/value rows alike; a quantized source is widened first.
    public func merging(_ merge: LoRAMerge, config c: ModelConfig) throws -> ModelWeights {
        // A split file's output row r is Hugging Face's row map[r]: the update's row must follow it.
        let qkvMap = qkvLayout == .split ? Converter.splitQKVRowMap(hidden: c.hiddenSize, heads: c.numAttentionHeads) : nil
        var out = self
        for i in layers.indices {
            for t in LayerTensor.allCases {
                guard let path = t.matrix, let delta = try merge.delta(layer: i, tensor: t) else { continue }
                let m = layers[i][keyPath: path]
                guard m.rows == delta.outputs, m.cols == delta.inputs else {
                    throw LoRAError.badTensor(file: merge.adapter.weightsFile, tensor: "layer \(i) \(t)",
                                              reason: "update is [\(delta.outputs), \(delta.inputs)], the matrix [\(m.rows), \(m.cols)]")
                }
                let storage = MergedMatrixStorage(count: m.rows * m.cols)
                delta.mergedRows(of: m.raw, rowMap: t.followsQKVRows ? qkvMap : nil, sourceReordered: true, first: 0, count: m.rows,
                                 into: storage.values)
                let merged = WeightMatrix(raw: csimd_matrix(data: storage.values, rows: Int64(m.rows), cols: Int64(m.cols),
                                                            row_bytes: Int64(4 * m.cols), type: Int32(CSIMD_TYPE_F32.rawValue)),
                                          owner: storage)
                switch t {
                case .qkv: out.layers[i].qkv = merged
                case .attentionOut: out.layers[i].attentionOut = merged
                case .mlpUp: out.layers[i].mlpUp = merged
                case .mlpDown: out.layers[i].mlpDown = merged
                default: continue
                }
            }
        }
        return out
    }
}

extension DollyModel {
    /// This model with an adapter merged into its weights (see ModelWeights.merging).
    public func merging(_ merge: LoRAMerge) throws -> DollyModel {
        let weights = try network.weights.merging(merge, config: config)
        return DollyModel(network: GPTNeoX(config: config, weights: weights), tokenizer: tokenizer,
                          facts: ModelFacts(weights: weights, format: facts.format, quantization: facts.quantization, bytes: nil))
    }
}
