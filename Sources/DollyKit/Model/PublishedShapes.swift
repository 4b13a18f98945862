extension ModelConfig {
    /// The configuration of a published Dolly v2 checkpoint (databricks/dolly-v2-3b, -7b, -12b: their
    /// config.json's values), named as a PEFT adapter's `base_model_name_or_path` names its base: the
    /// Hub id or a local folder ending in it. Nil for any other name.
    public static func publishedDolly(named name: String) -> ModelConfig? {
        var last = Substring(name.lowercased())
        while last.hasSuffix("/") { last = last.dropLast() }
        if let slash = last.lastIndex(of: "/") { last = last[last.index(after: slash)...] }
        let shapes: [Substring: (hidden: Int, layers: Int, heads: Int)] = [
            "dolly-v2-3b": (2560, 32, 32), "dolly-v2-7b": (4096, 32, 32), "dolly-v2-12b": (5120, 36, 40),
        ]
        guard let s = shapes[last] else { return nil }
        return try? ModelConfig(hiddenSize: s.hidden, numHiddenLayers: s.layers, numAttentionHeads: s.heads,
                                intermediateSize: 4 * s.hidden, vocabSize: 50280, maxPositionEmbeddings: 2048,
                                rotaryPct: 0.25, rotaryBase: 10000, layerNormEps: 1e-5, useParallelResidual: true)
    }
}
