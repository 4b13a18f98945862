import CSIMD
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An adapter to fold into a base model's weights: W + S · scale · B · A, computed in f32 on Hugging
/// Face's row order (B's rows are the checkpoint's rows; query_key_value's are interleaved per head),
/// so it is applied to each source row before the converter reorders or quantizes anything.
public struct LoRAMerge: Sendable {
    public let adapter: PEFTAdapter
    /// The user's factor on top of the adapter's own alpha / r (`--lora-scale`, 1 by default).
    public let scale: Float

    public init(adapter: PEFTAdapter, scale: Double = 1) throws {
        guard scale.isFinite, abs(scale) <= 1e6 else { throw LoRAError.badScale(scale) }
        self.adapter = adapter
        self.scale = Float(scale)
    }

    /// The update of one layer matrix, or nil when the adapter does not change it.
    public func delta(layer: Int, tensor: LayerTensor) throws -> LoRADelta? {
        guard let target = LoRATarget(layerTensor: tensor), let pair = try adapter.pair(layer: layer, target: target) else { return nil }
        return LoRADelta(pair, factor: scale * pair.scale)
    }

    /// What the `.dolly` file records about the merge (docs/FORMAT.md section 3, `lora`).
    public var record: FileMetadata.MergedAdapter {
        FileMetadata.MergedAdapter(name: adapter.name, file: adapter.weightsFile, identity: adapter.identity, r: adapter.rank,
                                   alpha: adapter.alpha, rslora: adapter.useRSLoRA ? true : nil, scale: scale,
                                   targets: adapter.targets.map(\.rawValue), baseModel: adapter.baseModel)
    }
}

/// One matrix's low-rank update with every factor folded into B, added row by row.
public struct LoRADelta: Sendable {
    public let rank: Int
    public let inputs: Int
    public let outputs: Int
    /// rank x inputs.
    let a: [Float]
    /// outputs x rank, times S · alpha / r.
    let b: [Float]

    init(_ pair: LoRAPair, factor: Float) {
        rank = pair.rank
        inputs = pair.inputs
        outputs = pair.outputs
        a = pair.a
        b = pair.b.map { $0 * factor }
    }

    /// row[j] += Σ_k b[sourceRow, k] · a[k, j] for j < inputs, in f32 (`sourceRow` in Hugging Face's order).
    public func add(toRow row: UnsafeMutablePointer<Float>, sourceRow: Int) {
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                let n = inputs
                for k in 0..<rank {
                    let c = b[sourceRow * rank + k]
                    if c == 0 { continue }
                    let ak = a.baseAddress! + k * n
                    for j in 0..<n { row[j] += c * ak[j] }  // an axpy the compiler vectorizes
                }
            }
        }
    }

    /// Output rows first ..< first + count, widened to f32 with the update added, back to back into `out`
    /// (count x inputs floats). Output row i is Hugging Face's row `rowMap[i]` (or i): the update's row.
    /// `sourceReordered`: `source` already holds output rows (a `.dolly` file's split rows); else it is in
    /// Hugging Face's order and row `rowMap[i]` is read (what the converter quantizes instead of the source rows).
    func mergedRows(of source: csimd_matrix, rowMap: [Int64]?, sourceReordered: Bool = false, first: Int, count: Int,
                    into out: UnsafeMutablePointer<Float>) {
        withUnsafePointer(to: source) { src in
            for i in first..<first + count {
                let hf = rowMap.map { Int($0[i]) } ?? i
                let row = out + (i - first) * inputs
                _ = csimd_matrix_row_dequantize(src, Int64(sourceReordered ? i : hf), row)
                add(toRow: row, sourceRow: hf)
            }
        }
    }
}

extension FileMetadata {
    /// An adapter merged into the weights at conversion.
    public struct MergedAdapter: Codable, Sendable, Equatable {
        /// The adapter folder's name.
        public var name: String
        /// adapter_model.safetensors or adapter_model.bin.
        public var file: String
        /// PEFTAdapter.identity: CRC-32 of adapter_config.json then the weights file.
        public var identity: String
        public var r: Int
        public var alpha: Float
        /// true when the scale was alpha / sqrt(r) (rsLoRA); absent: alpha / r.
        public var rslora: Bool?
        /// The user's factor (`--lora-scale`) on top of the adapter's alpha / r.
        public var scale: Float
        public var targets: [String]
        /// The adapter's base_model_name_or_path, as it says.
        public var baseModel: String?

        public init(name: String, file: String, identity: String, r: Int, alpha: Float, rslora: Bool?, scale: Float,
                    targets: [String], baseModel: String?) {
            self.name = name
            self.file = file
            self.identity = identity
            self.r = r
            self.alpha = alpha
            self.rslora = rslora
            self.scale = scale
            self.targets = targets
            self.baseModel = baseModel
        }

        enum CodingKeys: String, CodingKey {
            case name, file, identity, r, alpha, rslora, scale, targets
            case baseModel = "base_model"
        }
    }
}
