import CSIMD
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A `.dolly-lora` adapter loaded for one model: each adapted layer matrix's A and B in the form the
/// kernels take (`csimd_lora`), applied beside the base product by the forward pass (y += s·B(A x)).
/// Immutable once loaded, so any number of sessions and batch rows share it.
public final class LoRAAdapter: @unchecked Sendable {
    public let path: String
    public let metadata: AdapterMetadata
    /// The largest rank of any matrix (sizes the forward pass's scratch).
    public let maxRank: Int
    /// Bytes of A and B.
    public let bytes: Int
    public var identity: String { metadata.identity }
    /// Unique per loaded adapter, never reused (unlike an address): what a batch slot remembers its
    /// cached tokens were computed with, without keeping the adapter alive.
    public let serial: UInt64

    private static let serials = Lock()
    nonisolated(unsafe) private static var lastSerial: UInt64 = 0

    /// [layer * 4 + matrix index] (AdapterDelta.matrices order); nil: that matrix is not adapted.
    private let matrices: [csimd_lora?]
    private let scales: [Float]
    /// The bytes A and B point into.
    public let contents: AdapterFile.Contents
    /// B of `.qkv` reordered for a model kept in Hugging Face's row order (freed in deinit).
    private var owned: [UnsafeMutableRawPointer] = []

    /// Reads and checks `path` (every byte: the header, metadata and each tensor's CRC-32) and fits it
    /// to `model`'s shape and tensor layout. The file is copied into memory (AdapterFile.Contents).
    public convenience init(path: String, model: GPTNeoX) throws {
        try self.init(path: path, config: model.config, qkvLayout: model.weights.qkvLayout)
    }

    public convenience init(path: String, config c: ModelConfig, qkvLayout: QKVLayout) throws {
        try self.init(contents: AdapterFile.Contents(path: path), config: c, qkvLayout: qkvLayout)
    }

    /// An adapter made in memory from a file's bytes (`AdapterFile.image`), checked as a file is;
    /// `name` stands for the path in messages.
    public convenience init(image: [UInt8], name: String, config c: ModelConfig, qkvLayout: QKVLayout) throws {
        try self.init(contents: AdapterFile.Contents(image: image, name: name), config: c, qkvLayout: qkvLayout)
    }

    /// `path` fitted to the base shape it records (a `.dolly` file's row order): every check a model
    /// would make, without one (`dolly inspect`).
    public convenience init(checking path: String) throws {
        let contents = try AdapterFile.Contents(path: path)
        try self.init(contents: contents, config: contents.recordedBase(), qkvLayout: .split)
    }

    public init(contents: AdapterFile.Contents, config c: ModelConfig, qkvLayout: QKVLayout) throws {
        let path = contents.path, meta = contents.metadata
        self.path = path
        self.contents = contents
        metadata = meta
        serial = Self.serials.withLock {
            Self.lastSerial += 1
            return Self.lastSerial
        }
        func bad(_ reason: String) -> LoRAError { .badFile(path: path, reason: reason) }
        guard meta.base == AdapterMetadata.Base(c) else {
            let b = meta.base
            throw LoRAError.doesNotFit(path: path, reason: "made for hidden \(b.hiddenSize), \(b.numHiddenLayers) layers, \(b.numAttentionHeads) heads, intermediate \(b.intermediateSize); the model has \(c.hiddenSize), \(c.numHiddenLayers), \(c.numAttentionHeads), \(c.intermediateSize)")
        }
        let byName = contents.tensors
        var matrices = [csimd_lora?](repeating: nil, count: c.numHiddenLayers * 4)
        var scales = [Float](repeating: 0, count: matrices.count)
        var maxRank = 0, total = 0
        let qkvMap = Converter.splitQKVRowMap(hidden: c.hiddenSize, heads: c.numAttentionHeads)
        for p in meta.pairs {
            guard let m = AdapterDelta.matrices.first(where: { AdapterDelta.fileName($0) == p.matrix }) else { throw bad("unknown matrix \(p.matrix)") }
            guard p.layer >= 0, p.layer < c.numHiddenLayers else { throw bad("layer \(p.layer) of \(c.numHiddenLayers)") }
            let slot = p.layer * 4 + AdapterFile.index(m)
            guard matrices[slot] == nil else { throw bad("layers.\(p.layer).\(p.matrix) listed twice") }
            let shape = m.shape(c), outputs = shape[0], inputs = shape[1]
            guard p.rank >= 1, p.rank <= min(inputs, outputs) else { throw bad("layers.\(p.layer).\(p.matrix): rank \(p.rank)") }
            guard p.scale.isFinite else { throw bad("layers.\(p.layer).\(p.matrix): scale is not finite") }
            let prefix = "layers.\(p.layer).\(p.matrix)"
            guard let a = byName[prefix + ".lora_a"], let bt = byName[prefix + ".lora_bt"] else { throw bad("\(prefix): A or B is missing") }
            guard a.shape == [p.rank, inputs], bt.shape == [p.rank, outputs] else {
                throw bad("\(prefix): A \(a.shape), B transposed \(bt.shape); expected [\(p.rank), \(inputs)] and [\(p.rank), \(outputs)]")
            }
            guard a.type == bt.type, [.f32, .f16, .q8].contains(a.type) else { throw bad("\(prefix): types \(a.type.rawValue) and \(bt.type.rawValue) (f32, f16 or q8, alike)") }
            let aPtr = contents.data(a)
            var bPtr = contents.data(bt)
            if m == .qkv && qkvLayout == .perHeadInterleaved {
                // The model's qkv rows are in Hugging Face's order: put B's columns back there.
                guard a.type != .q8 else {
                    throw LoRAError.doesNotFit(path: path, reason: "a q8 adapter needs a .dolly model (its query_key_value rows are in the .dolly order); convert the adapter with --type f16 or f32 to use it on a Hugging Face folder")
                }
                let out = UnsafeMutableRawPointer.allocate(byteCount: bt.bytes, alignment: 64)
                owned.append(out)
                let size = a.type == .f32 ? 4 : 2
                for k in 0..<p.rank {
                    for r in 0..<outputs {
                        (out + (k * outputs + Int(qkvMap[r])) * size).copyMemory(from: bPtr + (k * outputs + r) * size, byteCount: size)
                    }
                }
                bPtr = UnsafeRawPointer(out)
            }
            matrices[slot] = csimd_lora(a: aPtr, bt: bPtr, rank: Int64(p.rank), cols: Int64(inputs),
                                        rows: Int64(outputs), type: Int32(a.type.csimdType!))
            scales[slot] = p.scale
            maxRank = max(maxRank, p.rank)
            total += a.bytes + bt.bytes
        }
        guard maxRank > 0 else { throw bad("no adapted matrices") }
        self.matrices = matrices
        self.scales = scales
        self.maxRank = maxRank
        bytes = total
    }

    deinit { for p in owned { p.deallocate() } }

    /// Layer `layer`'s delta of `matrix` and its scale (alpha / r), or nil when it is not adapted.
    func matrix(layer: Int, _ matrix: LayerTensor) -> (csimd_lora, Float)? {
        guard let i = AdapterDelta.matrices.firstIndex(of: matrix), let m = matrices[layer * 4 + i] else { return nil }
        return (m, scales[layer * 4 + i])
    }
}

