import Foundation

/// Checkpoints whose bf16 weights come from a counter-based generator (splitmix64) that
/// tools/fixtures/make_head_shape_reference.py implements bit for bit, so tests rebuild them instead of
/// committing them; weights are scaled for unit-variance activations, so attention is sharp.
enum GeneratedCheckpoint {
    static func splitmix64(_ counter: UInt64) -> UInt64 {
        let golden: UInt64 = 0x9E37_79B9_7F4A_7C15
        var z = counter &* golden &+ golden
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// bf16 bits of center + bound * (2u - 1), rounded to nearest even.
    static func uniformBF16(stream: Int, count: Int, center: Float, bound: Float) -> [UInt16] {
        [UInt16](unsafeUninitializedCapacity: count) { out, initialized in
            for i in 0..<count {
                let u = Float(splitmix64(UInt64(stream) << 32 + UInt64(i)) >> 40) * (1.0 / 16_777_216.0)
                let x = center + (u * 2 - 1) * bound
                let bits = x.bitPattern
                out[i] = UInt16((bits + (((bits >> 16) & 1) + 0x7FFF)) >> 16)
            }
            initialized = count
        }
    }

    /// (name, shape, center, bound) in stream order, as tensor_plan() in the tool.
    static func plan(hidden h: Int, vocab: Int, layers: Int) -> [(String, [Int], Float, Float)] {
        let f = 4 * h
        let wh = (3.0 / Float(h)).squareRoot(), wf = (3.0 / Float(f)).squareRoot()
        var plan: [(String, [Int], Float, Float)] = [("gpt_neox.embed_in.weight", [vocab, h], 0, 1)]
        for i in 0..<layers {
            let p = "gpt_neox.layers.\(i)."
            plan += [
                (p + "input_layernorm.weight", [h], 1, 0.1), (p + "input_layernorm.bias", [h], 0, 0.1),
                (p + "post_attention_layernorm.weight", [h], 1, 0.1), (p + "post_attention_layernorm.bias", [h], 0, 0.1),
                (p + "attention.query_key_value.weight", [3 * h, h], 0, wh), (p + "attention.query_key_value.bias", [3 * h], 0, 0.1),
                (p + "attention.dense.weight", [h, h], 0, wh), (p + "attention.dense.bias", [h], 0, 0.1),
                (p + "mlp.dense_h_to_4h.weight", [f, h], 0, wh), (p + "mlp.dense_h_to_4h.bias", [f], 0, 0.1),
                (p + "mlp.dense_4h_to_h.weight", [h, f], 0, wf), (p + "mlp.dense_4h_to_h.bias", [h], 0, 0.1),
            ]
        }
        plan += [("gpt_neox.final_layer_norm.weight", [h], 1, 0.1), ("gpt_neox.final_layer_norm.bias", [h], 0, 0.1),
                 ("embed_out.weight", [vocab, h], 0, wh)]
        return plan
    }

    /// A Hugging Face folder: config.json (Dolly's key style), model.safetensors (bf16), tokenizer.json.
    static func write(hidden: Int, heads: Int, vocab: Int, layers: Int, maxPositions: Int, to dir: URL) throws {
        var header: [String: Any] = ["__metadata__": ["format": "pt"]]
        var data = Data()
        for (k, (name, dims, center, bound)) in plan(hidden: hidden, vocab: vocab, layers: layers).enumerated() {
            let values = uniformBF16(stream: k, count: dims.reduce(1, *), center: center, bound: bound)
            let start = data.count
            values.withUnsafeBytes { data.append(contentsOf: $0) }  // little-endian host
            header[name] = ["dtype": "BF16", "shape": dims, "data_offsets": [start, data.count]]
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var file = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        file.append(data)
        try file.write(to: dir.appendingPathComponent("model.safetensors"))
        let config: [String: Any] = [
            "model_type": "gpt_neox", "architectures": ["GPTNeoXForCausalLM"], "vocab_size": vocab,
            "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
            "intermediate_size": 4 * hidden, "max_position_embeddings": maxPositions, "rotary_pct": 0.25,
            "rotary_emb_base": 10000, "layer_norm_eps": 1e-5, "use_parallel_residual": true, "hidden_act": "gelu",
            "tie_word_embeddings": false, "bos_token_id": 0, "eos_token_id": 0,
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(at: FixturePaths.root.appendingPathComponent("tokenizer.json"),
                                         to: dir.appendingPathComponent("tokenizer.json"))
    }
}
