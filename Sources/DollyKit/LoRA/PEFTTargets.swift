/// Which modules of a GPT-NeoX model an adapter config's `target_modules`, `exclude_modules` and
/// `layers_to_transform` select, matched the way PEFT matches them
/// (peft/tuners/tuners_utils.py, check_target_module_exists): a list entry selects a module whose
/// name is the entry or ends in "." + entry, a string is a regular expression that must match the
/// whole name. A selected module that is not one of the four layer matrices is refused by name.
struct PEFTTargets {
    let fields: [String: JSONNode]
    let config: ModelConfig

    /// Every module of transformers' GPTNeoXForCausalLM, with why it cannot carry a LoRA here (nil: it can).
    func modules() -> [(name: String, slot: PEFTConfig.Slot?, refusal: String?)] {
        var out: [(String, PEFTConfig.Slot?, String?)] = [
            ("gpt_neox", nil, "the whole model"), ("gpt_neox.embed_in", nil, "an embedding target (the input embedding)"),
            ("gpt_neox.emb_dropout", nil, "a dropout"), ("gpt_neox.layers", nil, "the layer list"),
            ("gpt_neox.final_layer_norm", nil, "a LayerNorm"), ("gpt_neox.rotary_emb", nil, "the rotary embedding"),
            ("embed_out", nil, "an embedding target (the output embedding, lm head)"),
        ]
        for i in 0..<config.numHiddenLayers {
            let p = "gpt_neox.layers.\(i)"
            out += [
                (p, nil, "a whole block"), (p + ".input_layernorm", nil, "a LayerNorm"),
                (p + ".post_attention_layernorm", nil, "a LayerNorm"), (p + ".post_attention_dropout", nil, "a dropout"),
                (p + ".post_mlp_dropout", nil, "a dropout"), (p + ".attention", nil, "the attention block, not a matrix"),
                (p + ".attention.rotary_emb", nil, "the rotary embedding"), (p + ".mlp", nil, "the MLP block, not a matrix"),
                (p + ".mlp.act", nil, "the activation"),
            ]
            for t in LoRATarget.allCases { out.append((t.moduleKey(layer: i), PEFTConfig.Slot(layer: i, target: t), nil)) }
        }
        return out
    }

    func adapted() throws -> Set<PEFTConfig.Slot> {
        let targets = fields["target_modules"] ?? .null
        let listed: [String]?
        switch targets {
        case let .string(s):
            guard s.count <= 1024, (try? Regex(s)) != nil else {
                throw LoRAError.unsupported(field: "target_modules", value: s, reason: "not a regular expression dolly can match")
            }
            listed = nil
        case let .array(items):
            listed = try items.map {
                guard let s = $0.string else { throw LoRAError.unsupported(field: "target_modules", value: targets.described, reason: "entries must be module names") }
                return s
            }
        default:
            throw LoRAError.unsupported(field: "target_modules", value: targets.described,
                                        reason: "dolly needs the adapted modules named (target_parameters are not applied)")
        }
        let all = modules()
        func selected(_ name: String) -> Bool {
            if let listed { return listed.contains { name == $0 || name.hasSuffix("." + $0) } }
            return Self.fullMatch(targets.string!, name)
        }
        if let listed {
            for entry in listed where !all.contains(where: { $0.name == entry || $0.name.hasSuffix("." + entry) }) {
                throw LoRAError.unsupported(field: "target_modules", value: entry,
                                            reason: "no module of GPT-NeoX has that name (an adapter for another architecture?)")
            }
        }
        let excluded = try exclusion()
        let layers = try layerFilter(listed: listed != nil)
        var slots = Set<PEFTConfig.Slot>()
        for m in all where selected(m.name) && !excluded(m.name) {
            guard let slot = m.slot else {
                throw LoRAError.unsupported(field: "target_modules", value: targets.described,
                                            reason: "it selects \(m.name), \(m.refusal ?? "not a layer matrix"); dolly applies LoRA to query_key_value, dense, dense_h_to_4h and dense_4h_to_h")
            }
            if layers?.contains(slot.layer) ?? true { slots.insert(slot) }
        }
        guard !slots.isEmpty else {
            throw LoRAError.unsupported(field: "target_modules", value: targets.described, reason: "it selects no layer matrix of this model")
        }
        return slots
    }

    /// exclude_modules: a list (exact name or suffix) or a regular expression, as target_modules.
    private func exclusion() throws -> (String) -> Bool {
        switch fields["exclude_modules"] ?? .null {
        case .null: return { _ in false }
        case let .string(s):
            guard s.count <= 1024, (try? Regex(s)) != nil else {
                throw LoRAError.unsupported(field: "exclude_modules", value: s, reason: "not a regular expression dolly can match")
            }
            return { Self.fullMatch(s, $0) }
        case let .array(items):
            let names = items.compactMap(\.string)
            guard names.count == items.count else {
                throw LoRAError.unsupported(field: "exclude_modules", value: JSONNode.array(items).described, reason: "entries must be module names")
            }
            return { name in names.contains { name == $0 || name.hasSuffix("." + $0) } }
        case let other:
            throw LoRAError.unsupported(field: "exclude_modules", value: other.described, reason: "must be a list of names or a regular expression")
        }
    }

    /// layers_to_transform (an index or a list of them); PEFT applies it to list targets only.
    private func layerFilter(listed: Bool) throws -> Set<Int>? {
        let v = fields["layers_to_transform"] ?? .null
        let indexes: [Int]
        switch v {
        case .null: return nil
        case let .array(items) where items.isEmpty: return nil
        case let .array(items): indexes = items.compactMap(\.int)
            guard indexes.count == items.count else {
                throw LoRAError.unsupported(field: "layers_to_transform", value: v.described, reason: "entries must be layer indexes")
            }
        default:
            guard let i = v.int else {
                throw LoRAError.unsupported(field: "layers_to_transform", value: v.described, reason: "must be a layer index or a list of them")
            }
            indexes = [i]
        }
        if let bad = indexes.first(where: { $0 < 0 || $0 >= config.numHiddenLayers }) {
            throw LoRAError.unsupported(field: "layers_to_transform", value: v.described,
                                        reason: "layer \(bad) is not in this \(config.numHiddenLayers)-layer model")
        }
        return listed ? Set(indexes) : nil
    }

    /// Python's re.fullmatch for the patterns PEFT configs hold; an invalid pattern matches nothing
    /// (the callers refuse those first).
    static func fullMatch(_ pattern: String, _ text: String) -> Bool {
        guard let r = try? Regex(pattern) else { return false }
        return (try? r.wholeMatch(in: text)) != nil
    }
}
