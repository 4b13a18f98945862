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

    public var config: ModelConfig { network.config }

    public init(network: GPTNeoX, tokenizer: Tokenizer) {
        self.network = network
        self.tokenizer = tokenizer
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
            return DollyModel(network: GPTNeoX(config: file.config, weights: try ModelWeights(file: file)), tokenizer: tokenizer)
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
        return DollyModel(network: GPTNeoX(config: config, weights: weights), tokenizer: tokenizer)
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
