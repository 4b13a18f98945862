import CSIMD
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which type each kind of tensor gets (docs/FORMAT.md section 6).
public enum QuantizationRecipe: String, CaseIterable, Sendable {
    /// 4.5 bits per layer weight on the non-uniform 4-bit grid (format 1.1).
    case q4
    /// 3.5 bits per layer weight on the non-uniform 3-bit grid (format 1.2).
    case q3
    /// 4.5 bits per layer weight on the uniform levels -8..7: format 1.0's q4, which every dolly reads.
    case q4Uniform = "q4-uniform"
    case q8, f16
    /// Every matrix in f32, nothing rounded: a reference to compare merges and quantized files with (twice f16's size).
    case f32

    /// Layer matrices, interleaved by 16 rows for the integer kernels.
    public var matrices: TensorType {
        switch self {
        case .q4: return .q4nr16
        case .q3: return .q3nr16
        case .q4Uniform: return .q4r16
        case .q8: return .q8r16
        case .f16: return .f16
        case .f32: return .f32
        }
    }

    /// The input embedding is only looked up row by row, so it keeps the plain row layout; 8 bits
    /// under q4 and q3 too, like the output matrix, whose error reaches every logit directly.
    public var embedIn: TensorType { self == .f16 || self == .f32 ? matrices : .q8 }
    public var embedOut: TensorType { self == .f16 || self == .f32 ? matrices : .q8r16 }

    /// The layer matrices are fitted block by block (weighting and importance matrix apply).
    var fitsMatrices: Bool { matrices == .q4r16 || matrices == .q4nr16 || matrices == .q3nr16 }

    /// The grid types, which the error-compensating fit (an importance matrix with covariance) serves.
    var compensates: Bool { matrices == .q4nr16 || matrices == .q3nr16 }

    func description(weighting: QuantWeighting, imatrix: ImportanceMatrix?, compensated: Bool) -> FileMetadata.Quantization {
        return FileMetadata.Quantization(recipe: rawValue, matrices: matrices, embedIn: embedIn, embedOut: embedOut,
                                         vectors: .f32, weighting: fitsMatrices && weighting != .uniform ? weighting.rawValue : nil,
                                         imatrix: fitsMatrices ? imatrix?.calibration : nil,
                                         fit: compensated ? "compensated" : nil)
    }
}

/// How much each weight's error counts when 4- and 3-bit blocks are fitted (besides an importance matrix).
public enum QuantWeighting: String, CaseIterable, Sendable {
    /// Plain least squared error.
    case uniform
    /// Errors weighted by sqrt(sigma^2 + x^2): the row's large weights are kept more exactly.
    case magnitude
}

/// Where a conversion stands, for a progress display.
public struct ConversionProgress: Sendable {
    public enum Phase: String, Sendable { case verifying = "verify", converting = "convert" }
    public var phase: Phase
    /// Source bytes processed so far, over both phases.
    public var done: Int
    public var total: Int
}

public struct ConversionSummary: Sendable {
    public var outputPath: String
    public var outputBytes: Int
    public var tensors: Int
    public var seconds: Double
    public var matrixBitsPerWeight: Double
}

/// Streams a Hugging Face Dolly checkpoint into a `.dolly` file: tensor by tensor, in row chunks,
/// quantizing on `threads` threads, releasing the source pages behind it so memory stays bounded,
/// writing to a temporary file that is renamed into place only when complete.
public struct Converter {
    public var sourceDirectory: String
    public var recipe: QuantizationRecipe
    /// Per-column importance of every layer matrix's input (`dolly imatrix`), for the 4- and 3-bit fits.
    public var importance: ImportanceMatrix?
    /// nil: magnitude weighting, times the importance matrix if there is one (on the grid types the best
    /// or nearly so on both measured models: BENCHMARKS.md, "Better bits").
    public var weighting: QuantWeighting?

    /// With an input covariance the grid types get the error-compensating fit (GPTQ); its block scales are
    /// fitted by plain least squares unless a weighting is asked for (how it was measured: BENCHMARKS.md,
    /// "Better bits").
    var compensated: Bool { recipe.compensates && importance?.covariance != nil }
    var effectiveWeighting: QuantWeighting { weighting ?? (compensated ? .uniform : .magnitude) }
    /// Upper bound on one chunk of output held in memory.
    public var chunkBytes = 32 << 20
    /// Threads the fits run on, whichever thread calls `convert`.
    public var threads = DollyModel.defaultThreads
    /// Files read besides the source folder (the importance matrix): the output may never be one of them.
    public var otherInputs: [String] = []
    /// Replace an existing output that is not a `.dolly` file (never an input, whatever this says).
    public var force = false
    /// A PEFT adapter folded into the layer matrices (in f32, before any reordering or quantization).
    public var lora: LoRAMerge?

    public init(sourceDirectory: String, recipe: QuantizationRecipe) {
        self.sourceDirectory = sourceDirectory
        self.recipe = recipe
    }

    /// One output tensor and how to produce its bytes.
    struct Plan {
        enum Producer {
            case bytes(Data)
            case vector([Float])
            /// `layer`: which layer matrix it is, for an adapter's update (nil: embeddings).
            case matrix(WeightMatrix, rowMap: [Int64]?, sourceName: String, importance: [Float]?, layer: (Int, LayerTensor)?)
        }
        var entry: FileMetadata.Tensor
        var producer: Producer
    }

    public func convert(to outputPath: String, progress: (ConversionProgress) -> Void = { _ in },
                        isCancelled: () -> Bool = { false }) throws -> ConversionSummary {
        let start = monotonicNanoseconds()
        // Before anything else: the output must not be an input, lie in the checkpoint, or be a foreign file.
        let target = try OutputGuard.check(output: outputPath, inputs: [sourceDirectory] + otherInputs,
                                           magic: FileHeader.magic, kind: "a .dolly file", force: force)
        let folder = URL(fileURLWithPath: sourceDirectory)
        guard isDirectory(sourceDirectory) == true else {
            throw FormatError.unsupportedSource("\(sourceDirectory) is not a Hugging Face model folder")
        }
        let configURL = folder.appendingPathComponent("config.json")
        guard let configData = FileManager.default.contents(atPath: configURL.path) else { throw ModelError.missingFile(configURL.path) }
        let config = try ModelConfig.decode(configData)
        let configCRC = FileMetadata.hex(configData.withUnsafeBytes { CRC32.checksum($0) })
        try importance?.check(against: config, configCRC32: configCRC)
        let tokenizerURL = folder.appendingPathComponent("tokenizer.json")
        guard let tokenizerData = FileManager.default.contents(atPath: tokenizerURL.path) else {
            throw ModelError.missingFile(tokenizerURL.path)
        }
        _ = try Tokenizer(data: tokenizerData)  // refuse a broken tokenizer before any work
        let source = try Checkpoint.open(directory: sourceDirectory)
        let weights = try ModelWeights(huggingFace: source, config: config)  // checks every name, shape and dtype

        let plans = try plan(config: config, weights: weights, tokenizer: tokenizerData)
        // Open the output first: an unwritable destination should fail before minutes of reading.
        let writer = try AtomicFileWriter(finalPath: target)
        let torchParts = Self.torchCheckpoints(source)
        let verifyTotal = torchParts.reduce(0) { $0 + $1.archive.entries.reduce(0) { $0 + $1.uncompressedSize } }
        let convertTotal = plans.reduce(0) { total, p in
            if case let .matrix(m, _, _, _, _) = p.producer { return total + m.storageBytes }
            return total
        }
        var report = ConversionProgress(phase: .verifying, done: 0, total: verifyTotal + convertTotal)
        progress(report)

        // A damaged download is refused, not converted: every zip entry's CRC-32 is checked.
        do {
            for part in torchParts {
                try part.verifyChecksums(progress: { n in
                    report.done += n
                    progress(report)
                }, isCancelled: isCancelled)
                if isCancelled() { throw FormatError.interrupted }
            }
        } catch {
            writer.abandon()
            throw error
        }
        report.phase = .converting

        let metadata = FileMetadata(
            format: "dolly", createdBy: "dolly convert \(DollyVersion.string)", model: config,
            quantization: recipe.description(weighting: effectiveWeighting, imatrix: importance, compensated: compensated),
            source: FileMetadata.Source(format: Self.sourceFormat(source), files: Self.sourceFiles(folder),
                                        configCRC32: configCRC),
            tokenizer: FileTensorName.tokenizer, tensors: plans.map(\.entry), lora: lora.map { [$0.record] })
        do {
            var placeholder = try Self.encode(metadata)
            let dataOffset = Self.align(FileHeader.size + placeholder.count, FileHeader.dataAlignment)
            let dataLength = plans.last.map { $0.entry.offset + $0.entry.bytes } ?? 0
            try writer.write(FileHeader(metadataLength: placeholder.count, dataOffset: dataOffset,
                                        dataLength: dataLength, metadataCRC32: 0).encoded())
            try writer.write(placeholder)
            try writer.writeZeros(dataOffset - FileHeader.size - placeholder.count)

            var final = metadata
            var position = 0
            for (i, p) in plans.enumerated() {
                try writer.writeZeros(p.entry.offset - position)
                let crc = try produce(p, into: writer, isCancelled: isCancelled) { n in
                    report.done += n
                    progress(report)
                }
                final.tensors[i].crc32 = FileMetadata.hex(crc)
                position = p.entry.offset + p.entry.bytes
            }
            // The CRCs are fixed-width hex, so the final metadata has exactly the placeholder's length.
            placeholder = try Self.encode(final)
            let metaCRC = placeholder.withUnsafeBytes { CRC32.checksum($0) }
            var header = FileHeader(metadataLength: placeholder.count, dataOffset: dataOffset,
                                    dataLength: dataLength, metadataCRC32: metaCRC)
            // The oldest minor version that has every type used: a 1.0 reader still takes a 1.0-typed file.
            header.minor = plans.map(\.entry.type.formatMinor).max() ?? 0
            try writer.write(header.encoded(), at: 0)
            try writer.write(placeholder, at: FileHeader.size)
            try writer.commit()
            let seconds = Double(monotonicNanoseconds() - start) / 1e9
            let matrices = plans.filter { $0.entry.shape.count == 2 }
            let bits = Double(matrices.reduce(0) { $0 + $1.entry.bytes }) * 8
                / Double(max(1, matrices.reduce(0) { $0 + $1.entry.shape.reduce(1, *) }))
            return ConversionSummary(outputPath: outputPath, outputBytes: dataOffset + dataLength, tensors: plans.count,
                                     seconds: seconds, matrixBitsPerWeight: bits)
        } catch {
            writer.abandon()
            throw error
        }
    }

    // MARK: - Planning

    private func plan(config c: ModelConfig, weights w: ModelWeights, tokenizer: Data) throws -> [Plan] {
        var plans: [Plan] = []
        var offset = 0
        func add(_ name: String, _ type: TensorType, _ shape: [Int], _ producer: Plan.Producer) throws {
            guard let bytes = type.byteCount(shape: shape) else {
                throw FormatError.unsupportedSource("tensor \(name) of shape \(shape) can't be stored as \(type.rawValue)")
            }
            plans.append(Plan(entry: FileMetadata.Tensor(name: name, type: type, shape: shape, offset: offset, bytes: bytes,
                                                         crc32: "00000000"), producer: producer))
            offset = Self.align(offset + bytes, FileHeader.tensorAlignment)
        }
        func matrix(_ name: String, _ m: WeightMatrix, _ type: TensorType, rowMap: [Int64]? = nil,
                    importance: [Float]? = nil, layer: (Int, LayerTensor)? = nil) throws {
            // Block types need whole blocks per row; other widths fall back to f16 (FORMAT.md section 6).
            let t = type.isBlock && m.cols % 32 != 0 ? TensorType.f16 : type
            try add(name, t, [m.rows, m.cols], .matrix(m, rowMap: rowMap, sourceName: name, importance: importance, layer: layer))
        }
        func vector(_ name: String, _ v: [Float]) throws { try add(name, .f32, [v.count], .vector(v)) }

        try add(FileTensorName.tokenizer, .u8, [tokenizer.count], .bytes(tokenizer))
        try matrix(FileTensorName.embedIn, w.embedIn, recipe.embedIn)
        let qkvMap = w.qkvLayout == .perHeadInterleaved ? Self.splitQKVRowMap(hidden: c.hiddenSize, heads: c.numAttentionHeads) : nil
        for (i, l) in w.layers.enumerated() {
            for t in LayerTensor.allCases {
                let name = FileTensorName.layer(i, t.fileSuffix), map = t.followsQKVRows ? qkvMap : nil
                if let m = t.matrix {
                    try matrix(name, l[keyPath: m], recipe.matrices, rowMap: map, importance: importance?.importance(layer: i, t), layer: (i, t))
                } else if let v = t.vector {
                    let values = l[keyPath: v]
                    try vector(name, map.map { $0.map { values[Int($0)] } } ?? values)
                }
            }
        }
        try vector(FileTensorName.finalNormWeight, w.finalNormWeight)
        try vector(FileTensorName.finalNormBias, w.finalNormBias)
        try matrix(FileTensorName.embedOut, w.embedOut, recipe.embedOut)
        return plans
    }

    /// Output row r of the split [Q; K; V] layout comes from this row of Hugging Face's per-head
    /// interleaved layout (FORMAT.md section 6).
    public static func splitQKVRowMap(hidden h: Int, heads: Int) -> [Int64] {
        let d = h / heads
        return (0..<3 * h).map { r in Int64(3 * d * ((r % h) / d) + d * (r / h) + r % d) }
    }

    // MARK: - Producing bytes

    private func produce(_ p: Plan, into writer: AtomicFileWriter, isCancelled: () -> Bool,
                         consumed: (Int) -> Void) throws -> UInt32 {
        switch p.producer {
        case let .bytes(data):
            try data.withUnsafeBytes { try writer.write($0) }
            return data.withUnsafeBytes { CRC32.checksum($0) }
        case let .vector(values):
            return try values.withUnsafeBytes { raw in
                try writer.write(raw)
                return CRC32.checksum(raw)
            }
        case let .matrix(m, rowMap, name, importance, layer):
            guard let type = p.entry.type.csimdType, let unitBytes = p.entry.type.unitBytes(cols: m.cols) else {
                throw FormatError.unsupportedSource("tensor \(name): no row size for \(p.entry.type.rawValue)")
            }
            // Whole storage units (rows, or groups of 16 for interleaved types) per chunk.
            let unit = p.entry.type.rowsPerUnit
            let unitsPerChunk = max(1, chunkBytes / max(unitBytes, 1))
            // An adapter's update is added to f32 copies of the source rows, bounded like the output chunk.
            let delta = try layer.flatMap { try lora?.delta(layer: $0.0, tensor: $0.1) }
            let rowsPerChunk = delta == nil ? unitsPerChunk * unit : min(unitsPerChunk, max(1, chunkBytes / (4 * m.cols * unit))) * unit
            let merged = delta.map { _ in UnsafeMutablePointer<Float>.allocate(capacity: rowsPerChunk * m.cols) }
            defer { merged?.deallocate() }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: unitsPerChunk * unitBytes, alignment: 64)
            defer { buffer.deallocate() }
            // The compensated fit replaces the importance weighting: the covariance's diagonal is the importance.
            let covariance = compensated && p.entry.type == recipe.matrices ? self.importance?.covariance : nil
            let factor = try covariance.flatMap { $0.bands(of: name) == nil ? nil : try $0.factor(of: name, threads: threads) }
            let importance = factor == nil ? importance : nil
            let band = Int64(covariance?.band ?? 0)
            var crc: UInt32 = 0
            var row = 0
            let sourceRowBytes = Int(m.raw.row_bytes)
            while row < m.rows {
                if isCancelled() { throw FormatError.interrupted }
                let n = min(rowsPerChunk, m.rows - row)
                var source = (matrix: m.raw, map: rowMap, first: row)
                if let delta, let merged {  // merged rows in Hugging Face's order, already picked through the row map
                    delta.mergedRows(of: m.raw, rowMap: rowMap, first: row, count: n, into: merged)
                    source = (csimd_matrix(data: merged, rows: Int64(n), cols: Int64(m.cols), row_bytes: Int64(4 * m.cols),
                                           type: Int32(CSIMD_TYPE_F32.rawValue)), nil, 0)
                }
                let status = withUnsafePointer(to: source.matrix) { src in
                    (importance ?? []).withUnsafeBufferPointer { imp in
                        (factor ?? []).withUnsafeBufferPointer { u in
                            var weights = csimd_quant_weights(importance: importance == nil ? nil : imp.baseAddress,
                                                              magnitude: effectiveWeighting == .magnitude ? 1 : 0,
                                                              factor: factor == nil ? nil : u.baseAddress, band: band)
                            return (source.map ?? []).withUnsafeBufferPointer { map in
                                csimd_rows_convert_weighted(src, source.map == nil ? nil : map.baseAddress, Int64(source.first), Int64(n), type,
                                                            buffer.baseAddress, &weights, Int32(threads))
                            }
                        }
                    }
                }
                guard status == 0 else {
                    throw FormatError.unsupportedSource("tensor \(name): conversion to \(p.entry.type.rawValue) failed (\(status))")
                }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<(n + unit - 1) / unit * unitBytes])
                try writer.write(chunk)
                crc = CRC32.checksum(chunk, previous: crc)
                consumed(n * sourceRowBytes)
                row += n
            }
            // Done with this tensor's source bytes: drop them from our resident set.
            if let base = m.raw.data {
                MappedFile.releasePages(UnsafeRawBufferPointer(start: base, count: m.rows * sourceRowBytes))
            }
            return crc
        }
    }

    // MARK: - Helpers

    static func align(_ v: Int, _ a: Int) -> Int { (v + a - 1) / a * a }

    static func encode(_ m: FileMetadata) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return try e.encode(m)
    }

    static func torchCheckpoints(_ source: TensorSource) -> [TorchCheckpoint] {
        if let t = source as? TorchCheckpoint { return [t] }
        if let s = source as? ShardedCheckpoint {
            return s.shards.keys.sorted().compactMap { s.shards[$0] as? TorchCheckpoint }
        }
        return []
    }

    static func sourceFormat(_ source: TensorSource) -> String {
        switch source {
        case is TorchCheckpoint: return "pytorch_model.bin"
        case is SafetensorsCheckpoint: return "model.safetensors"
        case let s as ShardedCheckpoint: return s.shards.values.first is TorchCheckpoint ? "pytorch_model.bin (sharded)" : "model.safetensors (sharded)"
        default: return "unknown"
        }
    }

    static func sourceFiles(_ folder: URL) -> [FileMetadata.SourceFile] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.sorted().compactMap { name in
            guard name.hasSuffix(".bin") || name.hasSuffix(".safetensors") || name.hasSuffix(".json") else { return nil }
            var st = stat()
            let size = stat(folder.appendingPathComponent(name).path, &st) == 0 ? Int(st.st_size) : 0
            return FileMetadata.SourceFile(name: name, bytes: size)
        }
    }
}

public enum DollyVersion {
    public static let string = "0.1.0"
}
