import CSIMD
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The `.dolly-lora` file (docs/FORMAT.md section 9): the `.dolly` container (same 64-byte header
/// with magic `DOLLYLRA`, JSON metadata, 4096-aligned data, CRC-32 per tensor) holding each adapted
/// matrix's A (rank, inputs) and B transposed (rank, outputs), in f16 or q8 blocks.
public enum AdapterFile {
    public static let magic: [UInt8] = Array("DOLLYLRA".utf8)
    public static let formatName = "dolly-lora"

    /// Element type of A and B: f32 (exact: what PEFT trained), f16 (half the size, rounded to 11
    /// bits) or q8 (a quarter; needs inputs and outputs that are multiples of 32, else that pair is f16).
    public enum ElementType: String, Sendable, CaseIterable {
        case f32, f16, q8
    }

    /// Whether the file at `path` starts with the adapter magic.
    public static func hasMagic(path: String) -> Bool { FileMagic.matches(path, magic) }

    /// Encodes `deltas` for the base `base` and writes them atomically to `path` (see `image`).
    public static func write(_ deltas: [AdapterDelta], to path: String, type: ElementType, base: ModelConfig,
                             identity: String, alpha: Double? = nil, rslora: Bool = false, createdBy: String = "dolly") throws {
        let bytes = try image(deltas, type: type, base: base, identity: identity, alpha: alpha, rslora: rslora, createdBy: createdBy)
        let writer = try AtomicFileWriter(finalPath: path)
        try writer.write(bytes)
        try writer.commit()
    }

    /// The bytes of the `.dolly-lora` file holding `deltas` for the base `base`: what `write` puts on
    /// disk, and what an adapter made in memory is read from (`LoRAAdapter(image:)`), so both go through
    /// one encoder and one reader. B's rows of `.qkv` are reordered as the `.dolly` file reorders the
    /// base's (FORMAT.md section 6: all queries, keys, then values), so the run-time delta lines up
    /// with the converted matrix.
    public static func image(_ deltas: [AdapterDelta], type: ElementType, base: ModelConfig,
                             identity: String, alpha: Double? = nil, rslora: Bool = false, createdBy: String = "dolly") throws -> [UInt8] {
        guard !deltas.isEmpty else { throw LoRAError.badDelta("no adapted matrices") }
        var seen = Set<Int>()
        var pairs: [AdapterMetadata.Pair] = []
        var tensors: [FileMetadata.Tensor] = []
        var data: [UInt8] = []
        func add(_ name: String, _ t: TensorType, _ shape: [Int], _ bytes: [UInt8]) {
            let offset = Converter.align(data.count, FileHeader.tensorAlignment)
            data += [UInt8](repeating: 0, count: offset - data.count)
            let crc = bytes.withUnsafeBytes { CRC32.checksum($0) }
            tensors.append(.init(name: name, type: t, shape: shape, offset: offset, bytes: bytes.count, crc32: FileMetadata.hex(crc)))
            data += bytes
        }
        let qkvMap = Converter.splitQKVRowMap(hidden: base.hiddenSize, heads: base.numAttentionHeads)
        for d in deltas.sorted(by: { ($0.layer, index($0.matrix)) < ($1.layer, index($1.matrix)) }) {
            guard let name = AdapterDelta.fileName(d.matrix) else { throw LoRAError.badDelta("\(d.matrix) is not a layer matrix") }
            guard d.layer >= 0, d.layer < base.numHiddenLayers else { throw LoRAError.badDelta("layer \(d.layer) of \(base.numHiddenLayers)") }
            guard seen.insert(d.layer * 4 + index(d.matrix)).inserted else { throw LoRAError.badDelta("layers.\(d.layer).\(name) given twice") }
            let shape = d.matrix.shape(base), outputs = shape[0], inputs = shape[1]
            guard d.rank >= 1, d.rank <= min(inputs, outputs) else { throw LoRAError.badDelta("layers.\(d.layer).\(name): rank \(d.rank)") }
            guard d.a.count == d.rank * inputs, d.b.count == outputs * d.rank else {
                throw LoRAError.badDelta("layers.\(d.layer).\(name): A has \(d.a.count) values, B \(d.b.count); expected [\(d.rank), \(inputs)] and [\(outputs), \(d.rank)]")
            }
            guard d.scale.isFinite, d.a.allSatisfy(\.isFinite), d.b.allSatisfy(\.isFinite) else {
                throw LoRAError.badDelta("layers.\(d.layer).\(name) holds a value that is not finite")
            }
            let t: TensorType = type == .f32 ? .f32 : type == .q8 && inputs % 32 == 0 && outputs % 32 == 0 ? .q8 : .f16
            // B transposed: bt[k][r] = B[source row of r][k].
            var bt = [Float](repeating: 0, count: d.rank * outputs)
            for r in 0..<outputs {
                let src = d.matrix == .qkv ? Int(qkvMap[r]) : r
                for k in 0..<d.rank { bt[k * outputs + r] = d.b[src * d.rank + k] }
            }
            add("layers.\(d.layer).\(name).lora_a", t, [d.rank, inputs], encode(d.a, rows: d.rank, cols: inputs, t))
            add("layers.\(d.layer).\(name).lora_bt", t, [d.rank, outputs], encode(bt, rows: d.rank, cols: outputs, t))
            pairs.append(.init(layer: d.layer, matrix: name, rank: d.rank, scale: d.scale))
        }
        let targets = AdapterDelta.matrices.filter { m in deltas.contains { $0.matrix == m } }.compactMap(AdapterDelta.peftName)
        let meta = AdapterMetadata(format: formatName, createdBy: createdBy, identity: identity,
                                   rank: deltas.map(\.rank).max() ?? 0, alpha: alpha, rslora: rslora ? true : nil, targets: targets,
                                   base: .init(base), qkvRows: "split", pairs: pairs, tensors: tensors)
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        let json = try e.encode(meta)
        let dataOffset = Converter.align(FileHeader.size + json.count, FileHeader.dataAlignment)
        var header = FileHeader(metadataLength: json.count, dataOffset: dataOffset, dataLength: data.count,
                                metadataCRC32: json.withUnsafeBytes { CRC32.checksum($0) })
        header.minor = 0  // FORMAT.md section 9: f32, f16 and q8 are all 1.0 types
        var bytes = header.encoded(magic: magic)
        bytes.reserveCapacity(dataOffset + data.count)
        bytes += json
        bytes += [UInt8](repeating: 0, count: dataOffset - bytes.count)
        bytes += data
        return bytes
    }

    static func index(_ m: LayerTensor) -> Int { AdapterDelta.matrices.firstIndex(of: m) ?? 0 }

    /// Rows of f32 values as f32 or f16 elements or q8 blocks (the base file's q8: d = absmax / 127).
    static func encode(_ v: [Float], rows: Int, cols: Int, _ t: TensorType) -> [UInt8] {
        if t == .f32 { return v.withUnsafeBytes { [UInt8]($0) } }  // little-endian hosts only, as everywhere
        if t == .f16 {
            var out = [UInt8](repeating: 0, count: v.count * 2)
            for (i, x) in v.enumerated() {
                let h = csimd_f32_to_f16(x)
                out[2 * i] = UInt8(h & 0xFF)
                out[2 * i + 1] = UInt8(h >> 8)
            }
            return out
        }
        let nb = cols / 32, size = MemoryLayout<csimd_block_q8>.size
        var blocks = [csimd_block_q8](repeating: csimd_block_q8(), count: rows * nb)
        v.withUnsafeBufferPointer { src in
            blocks.withUnsafeMutableBufferPointer { dst in  // (never &blocks[i]: that passes a one-element copy)
                for r in 0..<rows { csimd_q8_quantize_ref(src.baseAddress! + r * cols, Int64(cols), dst.baseAddress! + r * nb) }
            }
        }
        return blocks.withUnsafeBytes { raw in
            precondition(raw.count == rows * nb * size)  // csimd_block_q8 is packed: 34 bytes (csimd_blocks.h)
            return [UInt8](raw)
        }
    }
}

/// The JSON metadata of a `.dolly-lora` file (docs/FORMAT.md section 9).
public struct AdapterMetadata: Codable, Sendable {
    /// The base shape the adapter fits.
    public struct Base: Codable, Sendable, Equatable {
        public var hiddenSize: Int
        public var numHiddenLayers: Int
        public var numAttentionHeads: Int
        public var intermediateSize: Int
        enum CodingKeys: String, CodingKey {
            case hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
            case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size"
        }
        init(_ c: ModelConfig) {
            hiddenSize = c.hiddenSize
            numHiddenLayers = c.numHiddenLayers
            numAttentionHeads = c.numAttentionHeads
            intermediateSize = c.intermediateSize
        }
    }

    /// One adapted matrix: tensors `layers.{layer}.{matrix}.lora_a` and `.lora_bt`.
    public struct Pair: Codable, Sendable, Equatable {
        public var layer: Int
        public var matrix: String
        public var rank: Int
        public var scale: Float
    }

    public var format: String
    public var createdBy: String
    /// Where the adapter came from (e.g. PEFT's folder and the CRC-32 of its weights).
    public var identity: String
    /// The largest rank.
    public var rank: Int
    public var alpha: Double?
    /// true when PEFT's scale was alpha / sqrt(r) (rsLoRA); absent: alpha / r, or not recorded.
    public var rslora: Bool?
    /// PEFT's names of the adapted matrices.
    public var targets: [String]
    public var base: Base
    /// "split": B's query_key_value rows in the `.dolly` order (FORMAT.md section 6).
    public var qkvRows: String
    public var pairs: [Pair]
    public var tensors: [FileMetadata.Tensor]

    enum CodingKeys: String, CodingKey {
        case format, identity, rank, alpha, rslora, targets, base, pairs, tensors
        case createdBy = "created_by", qkvRows = "qkv_rows"
    }
}
