import ArgumentParser
import DollyKit
import Foundation

/// `--lora ADAPTER [--lora-scale S]` of `convert` and `imatrix`: a PEFT adapter folded into the weights
/// (`imatrix` applies it at run time instead, LoRAMerge.runtimeAdapter: the same inputs, no f32 copies).
struct LoRAMergeOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Merge this PEFT LoRA adapter (a folder with adapter_config.json and adapter_model.safetensors or .bin) into the weights (imatrix: measure the merged model, the adapter applied at run time).",
                                            valueName: "ADAPTER"))
    var lora: String?

    @Option(name: .long, help: "Factor on the adapter's update (default 1: alpha / r as trained).")
    var loraScale: Double?

    func validate() throws {
        if loraScale != nil, lora == nil { throw ValidationError("--lora-scale needs --lora") }
        if let s = loraScale, !s.isFinite { throw ValidationError("--lora-scale must be a finite number") }
    }

    /// The adapter, checked against the base model's config; nil without --lora.
    func merge(config: ModelConfig) throws -> LoRAMerge? {
        guard let lora else { return nil }
        return try LoRAMerge(adapter: PEFTAdapter(folder: URL(fileURLWithPath: lora), config: config), scale: loraScale ?? 1)
    }

    /// The base folder's config.json (for `convert`, before the converter opens the checkpoint).
    static func config(ofFolder folder: String) throws -> ModelConfig {
        try ModelConfig.load(from: URL(fileURLWithPath: folder).appendingPathComponent("config.json"))
    }

    /// What a note says about the adapter, after `verb` ("merged", or "applying" at run time).
    static func describe(_ m: LoRAMerge, verb: String = "merged") -> String {
        "\(verb) LoRA \(m.adapter.name) (r \(m.adapter.rank), alpha \(m.adapter.alpha)\(m.adapter.useRSLoRA ? ", rsLoRA" : ""), "
            + "scale \(m.scale), \(m.adapter.targets.map(\.rawValue).joined(separator: "/")), identity \(m.adapter.identity))"
    }
}
