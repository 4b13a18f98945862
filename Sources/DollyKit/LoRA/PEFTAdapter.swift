#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A LoRA adapter as Hugging Face PEFT saves it: a folder with `adapter_config.json` and
/// `adapter_model.safetensors` (or the older torch pickle `adapter_model.bin`), whose tensors are
/// `base_model.model.gpt_neox.layers.{i}.{module}.lora_A.weight` [r, in] and `lora_B.weight` [out, r].
///
/// Everything is checked when opened, against the base model's config: every field of the config,
/// every tensor's name, dtype and shape, that each module the config targets has both matrices and
/// that nothing else is there. The weights are read through the checkpoint readers (bounds-checked,
/// the pickle never executed, a .bin's zip CRCs verified) and widened to f32 only when asked for.
/// Immutable after init: `@unchecked` only because the tensor source is a protocol existential.
public final class PEFTAdapter: @unchecked Sendable {
    /// The folder's last path component (what metadata and messages call the adapter).
    public let name: String
    /// The config's default rank and alpha (rank_pattern / alpha_pattern may differ per module: each pair has its own).
    public let rank: Int
    public let alpha: Float
    public let useRSLoRA: Bool
    /// The modules adapted in at least one layer, in LoRATarget order.
    public let targets: [LoRATarget]
    /// CRC-32 of adapter_config.json's bytes followed by the weights file's, 8 hex digits: two adapters
    /// with the same identity hold the same update.
    public let identity: String
    /// "adapter_model.safetensors" or "adapter_model.bin".
    public let weightsFile: String
    /// The config's base_model_name_or_path, as recorded (not checked: shapes decide whether it fits).
    public let baseModel: String?

    private let config: PEFTConfig
    private let source: TensorSource
    private let names: [PEFTConfig.Slot: (a: String, b: String)]
    private let model: ModelConfig

    public static let configFile = "adapter_config.json"
    public static let weightFiles = ["adapter_model.safetensors", "adapter_model.bin"]
    /// PEFT saves the wrapped model's names under this prefix.
    static let prefix = "base_model.model."

    public init(folder: URL, config model: ModelConfig) throws {
        guard isDirectory(folder.path) == true else { throw LoRAError.missingFile(folder.path) }
        let configPath = folder.appendingPathComponent(Self.configFile).path
        guard isDirectory(configPath) == false, let configData = FileManager.default.contents(atPath: configPath) else {
            throw LoRAError.missingFile(configPath)
        }
        config = try PEFTConfig(data: configData, file: configPath, config: model)
        guard let weights = Self.weightFiles.first(where: { isDirectory(folder.appendingPathComponent($0).path) == false }) else {
            throw LoRAError.missingFile(folder.appendingPathComponent(Self.weightFiles[0]).path)
        }
        let weightsPath = folder.appendingPathComponent(weights).path
        let file = try MappedFile(path: weightsPath)
        if weights.hasSuffix(".bin") {
            let torch = try TorchCheckpoint(archive: ZipArchive(file: file))
            try torch.verifyChecksums()  // a damaged download is refused, as for checkpoints
            source = torch
        } else {
            source = try SafetensorsCheckpoint(file: file)
        }
        names = try Self.bind(source.tensorNames, file: weightsPath, config: config)
        // Shapes and dtypes now, so a bad adapter fails before any conversion starts.
        for (slot, n) in names.sorted(by: { ($0.key.layer, $0.key.target.rawValue) < ($1.key.layer, $1.key.target.rawValue) }) {
            let r = try config.rank(slot), io = slot.target.shape(model)
            try Self.check(source.tensor(named: n.a), [r, io.inputs], file: weightsPath, rankField: r == config.r ? "r" : "rank_pattern")
            try Self.check(source.tensor(named: n.b), [io.outputs, r], file: weightsPath, rankField: r == config.r ? "r" : "rank_pattern")
        }
        var crc = configData.withUnsafeBytes { CRC32.checksum($0) }
        crc = CRC32.checksum(file.bytes, previous: crc)
        identity = FileMetadata.hex(crc)
        name = folder.standardizedFileURL.lastPathComponent
        rank = config.r
        alpha = Float(config.alpha)
        useRSLoRA = config.useRSLoRA
        let bound = names
        targets = LoRATarget.allCases.filter { t in bound.keys.contains { $0.target == t } }
        weightsFile = weights
        baseModel = config.baseModel
        self.model = model
    }

    /// Whether `target` of `layer` is changed by this adapter.
    public func adapts(layer: Int, target: LoRATarget) -> Bool {
        names[PEFTConfig.Slot(layer: layer, target: target)] != nil
    }

    /// The update of one matrix, widened to f32; nil when the adapter leaves it alone.
    public func pair(layer: Int, target: LoRATarget) throws -> LoRAPair? {
        let slot = PEFTConfig.Slot(layer: layer, target: target)
        guard let n = names[slot] else { return nil }
        let r = try config.rank(slot), io = target.shape(model)
        let a = try source.tensor(named: n.a).toFloat32(), b = try source.tensor(named: n.b).toFloat32()
        for (values, tensor) in [(a, n.a), (b, n.b)] where values.contains(where: { !$0.isFinite }) {
            throw LoRAError.badTensor(file: weightsFile, tensor: tensor, reason: "holds a non-finite value (NaN or infinity)")
        }
        return LoRAPair(rank: r, inputs: io.inputs, outputs: io.outputs, a: a, b: b, scale: try config.scale(slot))
    }

    // MARK: - Checks

    /// Every tensor name to its (layer, module) and role; anything else is refused, and each slot the
    /// config targets must have both matrices.
    private static func bind(_ tensorNames: [String], file: String, config: PEFTConfig) throws -> [PEFTConfig.Slot: (a: String, b: String)] {
        var found: [PEFTConfig.Slot: (a: String?, b: String?)] = [:]
        for tensor in tensorNames {
            guard let (slot, isA) = parse(tensor).map({ ($0.0, $0.isA) }), config.adapted.contains(slot) else {
                throw LoRAError.unexpectedTensor(file: file, tensor: tensor)
            }
            var entry = found[slot] ?? (nil, nil)
            if isA { entry.a = tensor } else { entry.b = tensor }
            found[slot] = entry
        }
        var names: [PEFTConfig.Slot: (a: String, b: String)] = [:]
        for slot in config.adapted.sorted(by: { ($0.layer, $0.target.rawValue) < ($1.layer, $1.target.rawValue) }) {
            let key = prefix + slot.target.moduleKey(layer: slot.layer)
            guard let a = found[slot]?.a else { throw LoRAError.missingTensor(file: file, tensor: key + ".lora_A.weight") }
            guard let b = found[slot]?.b else { throw LoRAError.missingTensor(file: file, tensor: key + ".lora_B.weight") }
            names[slot] = (a, b)
        }
        return names
    }

    /// `base_model.model.gpt_neox.layers.{i}.{module path}.lora_{A|B}.weight` to its slot and role.
    static func parse(_ tensor: String) -> (PEFTConfig.Slot, isA: Bool)? {
        let layerPrefix = prefix + "gpt_neox.layers."
        guard tensor.hasPrefix(layerPrefix) else { return nil }
        let rest = tensor.dropFirst(layerPrefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]), layer >= 0,
              String(layer) == rest[..<dot] else { return nil }
        let tail = rest[rest.index(after: dot)...]
        for t in LoRATarget.allCases {
            if tail == t.modulePath + ".lora_A.weight" { return (PEFTConfig.Slot(layer: layer, target: t), true) }
            if tail == t.modulePath + ".lora_B.weight" { return (PEFTConfig.Slot(layer: layer, target: t), false) }
        }
        return nil
    }

    private static func check(_ t: TensorView, _ shape: [Int], file: String, rankField: String) throws {
        guard t.dtype.isFloat else { throw LoRAError.badTensor(file: file, tensor: t.name, reason: "dtype \(t.dtype.rawValue) is not a float type") }
        guard t.shape == shape else {
            let isA = t.name.hasSuffix("lora_A.weight")
            let rankInTensor = t.shape.count == 2 ? (isA ? t.shape[0] : t.shape[1]) : nil
            if let rankInTensor, rankInTensor != (isA ? shape[0] : shape[1]), t.shape[isA ? 1 : 0] == shape[isA ? 1 : 0] {
                throw LoRAError.badTensor(file: file, tensor: t.name,
                                          reason: "rank \(rankInTensor), but adapter_config.json's \(rankField) says \(isA ? shape[0] : shape[1])")
            }
            throw LoRAError.badTensor(file: file, tensor: t.name, reason: "shape \(t.shape), but the base model needs \(shape)")
        }
    }
}
