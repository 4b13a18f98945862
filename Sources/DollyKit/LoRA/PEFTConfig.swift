#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A PEFT `adapter_config.json` (LoraConfig, as peft 0.21 writes it), checked field by field: what
/// dolly applies is read, what changes nothing at inference is ignored, and any other field that is
/// not at its neutral value is refused by name.
struct PEFTConfig {
    /// The default rank and alpha; rank_pattern / alpha_pattern override them per module.
    let r: Int
    let alpha: Double
    let useRSLoRA: Bool
    let rankPattern: [String: Int]
    let alphaPattern: [String: Double]
    let baseModel: String?
    /// Every (layer, module) the adapter changes, as PEFT's target matching picks them on GPT-NeoX.
    let adapted: Set<Slot>

    struct Slot: Hashable {
        let layer: Int
        let target: LoRATarget
    }

    /// Far above any real config (a few KB); refused before parsing.
    static let maxBytes = 1 << 20

    /// Fields that do not change the weights an inference sees: bookkeeping, dropout, and the
    /// initialisation recipes (their result is the saved A and B).
    static let ignored: Set<String> = [
        "auto_mapping", "base_model_name_or_path", "revision", "task_type", "inference_mode", "peft_version",
        "lora_dropout", "init_lora_weights", "loftq_config", "eva_config", "corda_config", "lora_ga_config",
        "megatron_core", "qalora_group_size", "layers_pattern", "ensure_weight_tying",
    ]
    /// Fields read below.
    static let understood: Set<String> = [
        "peft_type", "r", "lora_alpha", "use_rslora", "use_dora", "fan_in_fan_out", "bias", "lora_bias",
        "modules_to_save", "target_modules", "exclude_modules", "layers_to_transform", "rank_pattern", "alpha_pattern",
    ]

    init(data: Data, file: String, config: ModelConfig) throws {
        guard data.count <= Self.maxBytes else { throw LoRAError.badConfig(file: file, reason: "\(data.count) bytes, more than any PEFT config") }
        let fields: [String: JSONNode]
        do {
            guard let o = try JSONNode(parsing: data).object else { throw LoRAError.badConfig(file: file, reason: "not a JSON object") }
            fields = o
        } catch let e as LoRAError { throw e } catch { throw LoRAError.badConfig(file: file, reason: "not valid JSON") }
        func value(_ key: String) -> JSONNode { fields[key] ?? .null }
        func unsupported(_ key: String, _ reason: String) -> LoRAError {
            .unsupported(field: key, value: value(key).described, reason: reason)
        }
        func flag(_ key: String) throws -> Bool {
            let v = value(key)
            if v.isNull { return false }
            guard let b = v.bool else { throw LoRAError.badConfig(file: file, reason: "\(key) is \(v.described), not true or false") }
            return b
        }

        // What kind of adapter this is at all.
        let peftType = value("peft_type").string
        guard peftType == "LORA" else { throw unsupported("peft_type", "dolly reads LoRA adapters (peft_type LORA) only") }
        // Fields whose non-neutral value changes the computation in ways dolly does not follow.
        if try flag("use_dora") { throw unsupported("use_dora", "DoRA's magnitude vectors renormalise every column; train with use_dora=False") }
        if try flag("fan_in_fan_out") { throw unsupported("fan_in_fan_out", "it is for Conv1D layers (GPT-2); GPT-NeoX's are Linear") }
        if try flag("lora_bias") { throw unsupported("lora_bias", "a trained bias on lora_B is not applied; train with lora_bias=False") }
        if let bias = value("bias").string, bias != "none" {
            throw unsupported("bias", "trained biases are not applied; train with bias=\"none\"")
        } else if !value("bias").isNull && value("bias").string == nil {
            throw LoRAError.badConfig(file: file, reason: "bias is \(value("bias").described), not a string")
        }
        if !Self.isNeutral(value("modules_to_save")) {
            throw unsupported("modules_to_save", "whole modules saved beside the adapter (e.g. a new head) are not applied")
        }
        for (key, v) in fields.sorted(by: { $0.key < $1.key })
        where !Self.ignored.contains(key) && !Self.understood.contains(key) && !Self.isNeutral(v) {
            throw unsupported(key, "dolly applies plain LoRA (A, B, alpha, r, rsLoRA, rank and alpha patterns) only")
        }

        // Rank and scale.
        guard let r = value("r").int, r > 0 else { throw LoRAError.badConfig(file: file, reason: "r is \(value("r").described), not a positive integer") }
        guard let alpha = Self.number(value("lora_alpha")), alpha.isFinite else {
            throw LoRAError.badConfig(file: file, reason: "lora_alpha is \(value("lora_alpha").described), not a number")
        }
        self.r = r
        self.alpha = alpha
        useRSLoRA = try flag("use_rslora")
        rankPattern = try Self.pattern(value("rank_pattern"), field: "rank_pattern", file: file) { $0.int.flatMap { $0 > 0 ? Double($0) : nil } }
            .mapValues { Int($0) }
        alphaPattern = try Self.pattern(value("alpha_pattern"), field: "alpha_pattern", file: file) { Self.number($0).flatMap { $0.isFinite ? $0 : nil } }
        baseModel = value("base_model_name_or_path").string
        adapted = try PEFTTargets(fields: fields, config: config).adapted()
    }

    /// Rank of one module: its rank_pattern entry, else r (peft.utils.other.get_pattern_key).
    func rank(_ slot: Slot) throws -> Int {
        try Self.lookup(rankPattern, field: "rank_pattern", key: slot.target.moduleKey(layer: slot.layer)) ?? r
    }

    /// Alpha of one module: its alpha_pattern entry, else lora_alpha.
    func alpha(_ slot: Slot) throws -> Double {
        try Self.lookup(alphaPattern, field: "alpha_pattern", key: slot.target.moduleKey(layer: slot.layer)) ?? alpha
    }

    /// PEFT's scaling (peft/tuners/lora/layer.py, LoraLayer.update_layer): alpha / r, or alpha / sqrt(r) with rsLoRA.
    func scale(_ slot: Slot) throws -> Float {
        let r = Double(try rank(slot)), a = try alpha(slot)
        return Float(useRSLoRA ? a / r.squareRoot() : a / r)
    }

    // MARK: - Helpers

    /// null, false, "", [] and {}: the value PEFT writes when a feature is off.
    static func isNeutral(_ v: JSONNode) -> Bool {
        switch v {
        case .null: return true
        case let .bool(b): return !b
        case let .string(s): return s.isEmpty
        case let .array(a): return a.isEmpty
        case let .object(o): return o.isEmpty
        default: return false
        }
    }

    static func number(_ v: JSONNode) -> Double? {
        switch v {
        case let .int(i): return Double(i)
        case let .double(d): return d
        default: return nil
        }
    }

    static func pattern(_ v: JSONNode, field: String, file: String, _ read: (JSONNode) -> Double?) throws -> [String: Double] {
        if v.isNull { return [:] }
        guard let o = v.object else { throw LoRAError.badConfig(file: file, reason: "\(field) is not an object") }
        var out: [String: Double] = [:]
        for (key, value) in o {
            guard let x = read(value) else { throw LoRAError.badConfig(file: file, reason: "\(field)[\(key)] is \(value.described)") }
            guard key.count <= 256, (try? Regex(key)) != nil else {
                throw LoRAError.unsupported(field: field, value: key, reason: "not a regular expression dolly can match")
            }
            out[key] = x
        }
        return out
    }

    /// The pattern entry matching `key` as peft.utils.other.get_pattern_key does (re.match of
    /// `(.*\.)?(pattern)$`). PEFT takes the first match in the file's key order, which a JSON
    /// dictionary does not keep: several matches with different values are refused instead.
    static func lookup<T: Equatable>(_ patterns: [String: T], field: String, key: String) throws -> T? {
        var found: (String, T)?
        for (p, v) in patterns.sorted(by: { $0.key < $1.key }) where PEFTTargets.fullMatch("(.*\\.)?(\(p))", key) {
            if let (other, w) = found, w != v {
                throw LoRAError.unsupported(field: field, value: "\(other), \(p)",
                                            reason: "both match module \(key) with different values; PEFT's choice depends on key order")
            }
            found = (p, v)
        }
        return found?.1
    }
}
