import DollyKit
import Foundation
import XCTest

/// Logits against transformers for the head geometry of the real Dolly sizes: 80-dim heads with 20
/// rotary dims (3b) and 128-dim heads with 32 rotary dims (7b, 12b), plus 16-dim heads; weights
/// scaled so attention is sharp (a rotary base of 20000 instead of 10000 fails this test). The bf16 weights are rebuilt
/// here from the same counter-based generator tools/make_head_shape_reference.py used, so only the
/// reference logits are committed (Tests/Fixtures/head_shapes.json).
final class HeadShapeTests: XCTestCase {
    struct Case: Decodable {
        let input_ids: [Int32]
        let last_logits_f32_b64: String
        let argmax_per_position: [Int]
        let max_abs_logit: Float
        let greedy_ids: [Int32]
    }
    struct Shape: Decodable { let name: String; let hidden: Int; let heads: Int; let head_dim: Int; let prompts: [Case] }
    struct Reference: Decodable { let vocab: Int; let layers: Int; let shapes: [Shape] }

    // MARK: - The generator (bit for bit as in the Python tool)

    static func splitmix64(_ counter: UInt64) -> UInt64 {
        let golden: UInt64 = 0x9E37_79B9_7F4A_7C15
        var z = counter &* golden &+ golden
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// bf16 bits of center + bound * (2u - 1), rounded to nearest even.
    static func uniformBF16(stream: Int, count: Int, center: Float, bound: Float) -> [UInt16] {
        (0..<count).map { i in
            let u = Float(splitmix64(UInt64(stream) << 32 + UInt64(i)) >> 40) * (1.0 / 16_777_216.0)
            let x = center + (u * 2 - 1) * bound
            let bits = x.bitPattern
            return UInt16((bits + (((bits >> 16) & 1) + 0x7FFF)) >> 16)
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
    static func writeCheckpoint(_ shape: Shape, _ ref: Reference, to dir: URL) throws {
        var header: [String: Any] = ["__metadata__": ["format": "pt"]]
        var data = Data()
        for (k, (name, dims, center, bound)) in plan(hidden: shape.hidden, vocab: ref.vocab, layers: ref.layers).enumerated() {
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
            "model_type": "gpt_neox", "architectures": ["GPTNeoXForCausalLM"], "vocab_size": ref.vocab,
            "hidden_size": shape.hidden, "num_hidden_layers": ref.layers, "num_attention_heads": shape.heads,
            "intermediate_size": 4 * shape.hidden, "max_position_embeddings": 64, "rotary_pct": 0.25,
            "rotary_emb_base": 10000, "layer_norm_eps": 1e-5, "use_parallel_residual": true, "hidden_act": "gelu",
            "tie_word_embeddings": false, "bos_token_id": 0, "eos_token_id": 0,
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(at: FixturePaths.root.appendingPathComponent("tokenizer.json"),
                                         to: dir.appendingPathComponent("tokenizer.json"))
    }

    func testLogitsMatchTransformersForDollyHeadSizes() throws {
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: FixturePaths.root.appendingPathComponent("head_shapes.json")))
        XCTAssertTrue(Set(ref.shapes.map(\.head_dim)).isSuperset(of: [80, 128]))
        for shape in ref.shapes {
            let dir = try FixturePaths.temporaryDirectory("dolly-\(shape.name)")
            defer { try? FileManager.default.removeItem(at: dir) }
            try Self.writeCheckpoint(shape, ref, to: dir)
            let model = try DollyModel.load(path: dir.path)
            // Every kernel path this CPU runs (the attention and matrix code differ per path).
            try forEachKernelPath { kernel in try check(model, shape, ref.vocab, label: "\(shape.name) \(kernel)") }
        }
    }

    func check(_ model: DollyModel, _ shape: Shape, _ vocab: Int, label: String) throws {
        let session = try model.network.makeSession(contextLength: 64, kvType: .f32)
        for (n, p) in shape.prompts.enumerated() {
            session.reset()
            var argmax: [Int] = []
            var last: [Float] = []
            try session.evaluate(p.input_ids, logits: .all { _, logits in
                for r in 0..<logits.count / vocab {
                    let row = logits[r * vocab..<(r + 1) * vocab]
                    argmax.append(row.indices.max { row[$0] < row[$1] }! - r * vocab)
                    last = Array(row)
                }
            })
            let expected = ReferenceModelTests.floats(p.last_logits_f32_b64)
            XCTAssertEqual(last.count, expected.count)
            let err = zip(last, expected).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(err, 1e-3 * p.max_abs_logit, "\(label) prompt \(n): max |Δ| \(err)")
            XCTAssertEqual(argmax, p.argmax_per_position, "\(label) prompt \(n)")
            let greedy = try TokenGenerator(session: model.network.makeSession(contextLength: 64, kvType: .f32))
                .generate(prompt: p.input_ids, maxNewTokens: p.greedy_ids.count, sampling: .greedyDecoding, stopTokens: []) { _ in true }
            XCTAssertEqual(greedy.tokens, p.greedy_ids, "\(label) prompt \(n)")
        }
    }
}
