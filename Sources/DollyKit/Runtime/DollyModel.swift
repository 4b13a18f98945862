import CSIMD
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A Dolly model ready to run: network, tokenizer and Dolly's special tokens.
public final class DollyModel: Sendable {
    public let network: GPTNeoX
    public let tokenizer: Tokenizer
    /// `### End`, which closes every answer Dolly was trained on.
    public let endKeyId: Int32?
    /// The added token starting with `### Response:`, the end of Dolly's prompt.
    public let responseKeyId: Int32?
    /// `<|endoftext|>`.
    public let eosId: Int32

    /// Where the weights came from and how they are stored (what servers report about the model).
    public let facts: ModelFacts

    public var config: ModelConfig { network.config }

    public init(network: GPTNeoX, tokenizer: Tokenizer, facts: ModelFacts? = nil) {
        self.network = network
        self.tokenizer = tokenizer
        self.facts = facts ?? ModelFacts(weights: network.weights, format: "memory", quantization: nil, bytes: nil)
        endKeyId = tokenizer.addedTokens.first { $0.content == DollyPrompt.endKey }?.id
        responseKeyId = tokenizer.addedTokens.first { $0.content.hasPrefix(DollyPrompt.responseKey) }?.id
        eosId = tokenizer.id(ofToken: "<|endoftext|>") ?? Int32(network.config.eosTokenId)
    }

    /// Loads a `.dolly` file or a Hugging Face folder (config.json, tokenizer.json, weights);
    /// either way the weights are used in place from the mapping. `fileMode` .read copies a `.dolly`
    /// file into memory instead (MappedFile.Mode: a server outliving changes to its file).
    public static func load(path: String, fileMode: MappedFile.Mode = .map) throws -> DollyModel {
        guard let directory = isDirectory(path) else { throw ModelError.missingFile(path) }
        guard directory else {
            let file = try DollyFile(path: path, mode: fileMode)
            let tokenizer = try Tokenizer(data: try file.tokenizerData())
            let weights = try ModelWeights(file: file)
            return DollyModel(network: GPTNeoX(config: file.config, weights: weights), tokenizer: tokenizer,
                              facts: ModelFacts(weights: weights, format: "dolly", quantization: file.metadata.quantization.recipe,
                                                bytes: file.file.bytes.count))
        }
        let folder = URL(fileURLWithPath: path)
        let config = try ModelConfig.load(from: folder.appendingPathComponent("config.json"))
        let tokenizerURL = folder.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: tokenizerURL.path) else {
            throw ModelError.missingFile(tokenizerURL.path)
        }
        let tokenizer = try Tokenizer(contentsOf: tokenizerURL)
        let source = try Checkpoint.open(directory: path)
        let weights = try ModelWeights(huggingFace: source, config: config)
        return DollyModel(network: GPTNeoX(config: config, weights: weights), tokenizer: tokenizer,
                          facts: ModelFacts(weights: weights, format: "huggingface", quantization: nil, bytes: nil))
    }

    /// Ids that end a generation.
    public var stopTokens: Set<Int32> {
        var s: Set<Int32> = [eosId]
        if let endKeyId { s.insert(endKeyId) }
        return s
    }

    /// The kernel path the matrix products use.
    public static var kernelName: String { String(cString: csimd_kernel_name()) }

    /// Physical cores this process may run on (hyper-threads share a core's vector units, so more
    /// threads than cores only adds contention; `taskset` and cgroup cpusets narrow the set): the
    /// default thread count of every session, engine and conversion. Read once; OMP_NUM_THREADS does
    /// not change it.
    public static let defaultThreads: Int = CPUTopology.read().usableCores
}

/// What a loaded model is, for reports (`/api/show`, `/api/tags`): its source format, how its
/// matrices are stored, its size.
public struct ModelFacts: Sendable {
    /// "dolly" (a .dolly file), "huggingface" (a checkpoint folder) or "memory".
    public var format: String
    /// The .dolly file's recipe (q4, q3, q8, f16, f32); for a folder, the matrices' type as read.
    public var quantization: String
    public var parameterCount: Int
    /// Bytes of the file, or of the weights as held.
    public var bytes: Int

    public init(weights: ModelWeights, format: String, quantization: String?, bytes: Int?) {
        self.format = format
        let count = weights.parameterCount
        parameterCount = count
        self.bytes = bytes ?? weights.weightBytes
        let bits = Double(weights.weightBytes) * 8 / Double(max(1, count))
        self.quantization = quantization ?? (bits > 24 ? "f32" : bits > 12 ? "f16" : "\((bits * 10).rounded() / 10) bits")
    }
}

extension Tokenizer {
    /// The tokenizer of a model: a `.dolly` file's, a Hugging Face folder's tokenizer.json, or a
    /// tokenizer.json itself.
    public static func load(modelPath path: String) throws -> Tokenizer {
        guard let directory = isDirectory(path) else { throw ModelError.missingFile(path) }
        if !directory, DollyFile.hasMagic(path: path) {
            return try Tokenizer(data: try DollyFile(path: path).tokenizerData())
        }
        let url = directory
            ? URL(fileURLWithPath: path).appendingPathComponent("tokenizer.json")
            : URL(fileURLWithPath: path)
        guard FileManager.default.fileExists(atPath: url.path) else { throw ModelError.missingFile(url.path) }
        return try Tokenizer(contentsOf: url)
    }
}
