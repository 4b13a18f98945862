#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// llama-imatrix's statistic for every layer matrix: per input column, the mean square of the
/// activations that multiply it, over calibration text run through the unquantized model. Columns that
/// carry large activations matter more; the converter fits Q4 blocks for the least error weighted by it.
public struct ImportanceMatrix: Sendable, Equatable {
    /// The model it was measured on (checked before it is used).
    public struct Identity: Codable, Sendable, Equatable {
        public var hiddenSize: Int
        public var numHiddenLayers: Int
        public var intermediateSize: Int
        public var vocabSize: Int
        /// CRC-32 of the checkpoint's config.json, as `.dolly` files record it (FileMetadata.Source).
        public var configCRC32: String
        /// The LoRA adapter measured with (`dolly imatrix --lora`, the merged model's statistics): its identity and scale
        /// (LoRAMerge.calibrationIdentity); absent: the base alone.
        public var lora: String? = nil

        enum CodingKeys: String, CodingKey {
            case hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
            case intermediateSize = "intermediate_size", vocabSize = "vocab_size", configCRC32 = "config_crc32", lora
        }
    }

    /// What it was measured over.
    public struct Calibration: Codable, Sendable, Equatable {
        public var file: String
        public var bytes: Int
        public var crc32: String
        /// Tokens per chunk, chunks run, tokens in all.
        public var context: Int
        public var chunks: Int
        public var tokens: Int
    }

    public var identity: Identity
    public var calibration: Calibration
    /// Our file's tensor name (e.g. `layers.0.mlp.down.weight`) → mean squared activation per column.
    public var columns: [String: [Float]]
    /// Each layer matrix's input covariance in diagonal bands (`dolly imatrix`'s default), for the
    /// error-compensating fit; nil in a diagonal-only file.
    public var covariance: InputCovariance?

    public init(identity: Identity, calibration: Calibration, columns: [String: [Float]], covariance: InputCovariance? = nil) {
        self.identity = identity
        self.calibration = calibration
        self.columns = columns
        self.covariance = covariance
    }

    /// The importance of a layer matrix's input columns, if measured.
    public func importance(layer: Int, _ tensor: LayerTensor) -> [Float]? {
        columns[FileTensorName.layer(layer, tensor.fileSuffix)]
    }

    /// The layer matrices an importance matrix covers, in file order.
    static let matrices: [LayerTensor] = LayerTensor.allCases.filter { $0.matrix != nil }

    /// Refuses a matrix measured on another model (or with another merged adapter, `lora`).
    public func check(against config: ModelConfig, configCRC32: String, lora: String? = nil) throws {
        let expected = Identity(hiddenSize: config.hiddenSize, numHiddenLayers: config.numHiddenLayers,
                                intermediateSize: config.intermediateSize, vocabSize: config.vocabSize,
                                configCRC32: configCRC32, lora: lora)
        var base = identity
        base.lora = lora  // the model first, then the adapter
        guard base == expected else {
            throw ImportanceMatrixError.wrongModel(
                "measured on a model with hidden \(identity.hiddenSize), \(identity.numHiddenLayers) layers, "
                    + "intermediate \(identity.intermediateSize), vocab \(identity.vocabSize), config.json CRC-32 "
                    + "\(identity.configCRC32); this one has \(expected.hiddenSize), \(expected.numHiddenLayers), "
                    + "\(expected.intermediateSize), \(expected.vocabSize), \(expected.configCRC32)")
        }
        guard identity.lora == lora else {
            throw ImportanceMatrixError.wrongModel("measured with LoRA \(identity.lora ?? "none") merged; this conversion merges \(lora ?? "none")")
        }
        for l in 0..<config.numHiddenLayers {
            for t in Self.matrices {
                let name = FileTensorName.layer(l, t.fileSuffix)
                guard let v = columns[name], v.count == t.shape(config)[1] else {
                    throw ImportanceMatrixError.malformed("no importance of the right width for \(name)")
                }
                if let covariance, !covariance.tensors.contains(where: { $0.name == name && $0.columns == v.count }) {
                    throw ImportanceMatrixError.malformed("no input covariance of the right width for \(name)")
                }
            }
        }
    }
}

public enum ImportanceMatrixError: LocalizedError, Equatable {
    case malformed(String)
    case wrongModel(String)
    case calibrationTooShort(tokens: Int, context: Int)
    case invalidBand(Int)

    public var errorDescription: String? {
        switch self {
        case let .malformed(why): return "not a usable importance matrix: \(why)"
        case let .wrongModel(why): return "the importance matrix is for another model: \(why)"
        case let .calibrationTooShort(tokens, context):
            return "the calibration text has \(tokens) tokens; one chunk needs \(context)"
        case let .invalidBand(band): return "a covariance band of \(band) columns: it must be a positive multiple of 32 up to 4096"
        }
    }
}

// MARK: - Measuring

extension DollyModel {
    /// Runs `text` through the model in non-overlapping chunks of `context` tokens (each from an empty
    /// cache, as llama-imatrix does), at most `maxChunks`, and averages the squared input of every layer
    /// matrix per column, on `threads` threads. `progress(done, total)` after each chunk. With `adapter`
    /// every pass runs with it (as trained), so the inputs are those of the model merged with it.
    public func importanceMatrix(text: String, calibrationName: String, context: Int, maxChunks: Int? = nil,
                                 covarianceBand: Int? = nil, adapter: LoRAAdapter? = nil, threads: Int = DollyModel.defaultThreads,
                                 configCRC32: String, progress: (Int, Int) -> Void = { _, _ in },
                                 isCancelled: () -> Bool = { false }) throws -> ImportanceMatrix {
        let c = config
        let tokens = tokenizer.encode(text)
        guard context >= 1, tokens.count >= context else {
            throw ImportanceMatrixError.calibrationTooShort(tokens: tokens.count, context: context)
        }
        let chunks = min(tokens.count / context, maxChunks ?? Int.max)
        let session = try network.makeSession(contextLength: context, batchSize: min(context, 512), kvType: .f32,
                                              threads: threads)
        session.adapter = adapter
        // Double sums: millions of squares per column.
        var sums = [[Double]](repeating: [], count: c.numHiddenLayers * ImportanceMatrix.matrices.count)
        for l in 0..<c.numHiddenLayers {
            for (k, t) in ImportanceMatrix.matrices.enumerated() {
                sums[l * ImportanceMatrix.matrices.count + k] = [Double](repeating: 0, count: t.shape(c)[1])
            }
        }
        let slot = Dictionary(uniqueKeysWithValues: ImportanceMatrix.matrices.enumerated().map { ($1, $0) })
        if let band = covarianceBand, band <= 0 || band % 32 != 0 || band > 4096 { throw ImportanceMatrixError.invalidBand(band) }
        let covariance = try covarianceBand.map { band in
            try InputCovariance(band: band, tensors: (0..<c.numHiddenLayers).flatMap { l in
                ImportanceMatrix.matrices.map { (FileTensorName.layer(l, $0.fileSuffix), $0.shape(c)[1]) }
            })
        }
        session.activationTap = { layer, tensor, input, rows, cols in
            guard let k = slot[tensor] else { return }
            covariance?.accumulate(FileTensorName.layer(layer, tensor.fileSuffix), input, rows: rows, columns: cols,
                                   threads: threads)
            sums[layer * ImportanceMatrix.matrices.count + k].withUnsafeMutableBufferPointer { s in
                for r in 0..<rows {
                    let row = input + r * cols
                    for j in 0..<cols { s[j] += Double(row[j]) * Double(row[j]) }
                }
            }
        }
        defer { session.activationTap = nil }
        progress(0, chunks)
        for i in 0..<chunks {
            if isCancelled() { throw FormatError.interrupted }
            session.reset()
            try session.evaluate(Array(tokens[i * context..<(i + 1) * context]))
            if covariance?.accumulationFailed == true {
                throw ModelError.outOfMemory(bytes: 512 * 4 * (covarianceBand ?? 0), reason: "accumulating the input covariances")
            }
            progress(i + 1, chunks)
        }
        let n = Double(chunks * context)
        covariance?.scale(by: Float(1 / n))
        var columns: [String: [Float]] = [:]
        for l in 0..<c.numHiddenLayers {
            for (k, t) in ImportanceMatrix.matrices.enumerated() {
                columns[FileTensorName.layer(l, t.fileSuffix)] = sums[l * ImportanceMatrix.matrices.count + k].map { Float($0 / n) }
            }
        }
        let bytes = Data(text.utf8)
        return ImportanceMatrix(
            identity: .init(hiddenSize: c.hiddenSize, numHiddenLayers: c.numHiddenLayers,
                            intermediateSize: c.intermediateSize, vocabSize: c.vocabSize, configCRC32: configCRC32),
            calibration: .init(file: calibrationName, bytes: bytes.count,
                               crc32: FileMetadata.hex(bytes.withUnsafeBytes { CRC32.checksum($0) }),
                               context: context, chunks: chunks, tokens: chunks * context),
            columns: columns, covariance: covariance)
    }

    /// The CRC-32 of the config.json this model came from: a `.dolly` file records it, a Hugging Face
    /// folder has the file.
    public static func configCRC32(modelPath path: String) throws -> String {
        if isDirectory(path) == true {
            let url = URL(fileURLWithPath: path).appendingPathComponent("config.json")
            guard let data = FileManager.default.contents(atPath: url.path) else { throw ModelError.missingFile(url.path) }
            return FileMetadata.hex(data.withUnsafeBytes { CRC32.checksum($0) })
        }
        return try DollyFile(path: path).metadata.source.configCRC32
    }
}
