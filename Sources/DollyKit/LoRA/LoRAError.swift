#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Everything that can be wrong with a PEFT LoRA adapter. PEFT can write many things dolly does not
/// apply (DoRA, trained biases, whole modules saved beside the adapter, embedding targets...): each is
/// refused by the one field that asks for it, so the user knows what to change in their training script.
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
        }
    }
}
