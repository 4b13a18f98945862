#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Everything that can be wrong with a LoRA adapter: a PEFT adapter folder (merged at conversion or
/// converted to a `.dolly-lora` file), a `.dolly-lora` file, or fitting one to a model. PEFT can write
/// many things dolly does not apply (DoRA, trained biases, whole modules saved beside the adapter,
/// embedding targets...): each is refused by the one field that asks for it, so the user knows what to
/// change in their training script. A bad or hostile `.dolly-lora` file is always one of these, never a crash.
public enum LoRAError: LocalizedError, Equatable {
    /// The adapter folder or one of its files is absent.
    case missingFile(String)
    /// adapter_config.json is not JSON of the shape PEFT writes.
    case badConfig(file: String, reason: String)
    /// A field of adapter_config.json asks for something dolly does not apply.
    case unsupported(field: String, value: String, reason: String)
    /// A tensor the config promises is not in the weights file.
    case missingTensor(file: String, tensor: String)
    /// The weights file holds a tensor that is no LoRA A or B matrix of a layer module dolly knows.
    case unexpectedTensor(file: String, tensor: String)
    /// A tensor's dtype, shape, rank or values do not fit the config or the base model.
    case badTensor(file: String, tensor: String, reason: String)
    /// The user's scale on top of the adapter's own (`--lora-scale`).
    case badScale(Double)

    // `.dolly-lora` files and run-time adapters.
    /// The file does not start with the `.dolly-lora` magic.
    case notAdapterFile(path: String)
    /// Damaged or inconsistent: header, metadata, tensor table or a checksum.
    case badFile(path: String, reason: String)
    /// A sound adapter made for another base shape (or another tensor layout than the model's).
    case doesNotFit(path: String, reason: String)
    /// A delta handed to the writer that cannot be an adapter of this base.
    case badDelta(String)
    /// A name a server or command was asked for that no loaded adapter has.
    case unknown(name: String)
    /// A name already given to a loaded adapter.
    case nameTaken(name: String)

    public var errorDescription: String? {
        switch self {
        case let .missingFile(path):
            return "LoRA adapter: \(path) does not exist (a PEFT adapter folder holds adapter_config.json and adapter_model.safetensors or adapter_model.bin)"
        case let .badConfig(file, reason):
            return "\(file): not a PEFT adapter config: \(reason)"
        case let .unsupported(field, value, reason):
            return "LoRA adapter: \(field) = \(value) is not supported: \(reason)"
        case let .missingTensor(file, tensor):
            return "\(file): missing tensor \(tensor), which adapter_config.json's target_modules ask for"
        case let .unexpectedTensor(file, tensor):
            return "\(file): unexpected tensor \(tensor) (dolly applies lora_A/lora_B of query_key_value, dense, dense_h_to_4h and dense_4h_to_h only)"
        case let .badTensor(file, tensor, reason):
            return "\(file): tensor \(tensor): \(reason)"
        case let .badScale(s):
            return "LoRA scale \(s) must be a finite number"
        case let .notAdapterFile(path): return "\(path) is not a .dolly-lora adapter file (bad magic)"
        case let .badFile(path, reason): return "\(path): damaged adapter file: \(reason)"
        case let .doesNotFit(path, reason): return "\(path) does not fit this model: \(reason)"
        case let .badDelta(reason): return "cannot write the adapter: \(reason)"
        case let .unknown(name): return "no adapter named \(name)"
        case let .nameTaken(name): return "an adapter named \(name) is loaded already (remove it first)"
        }
    }
}
