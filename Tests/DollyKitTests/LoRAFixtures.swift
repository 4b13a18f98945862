import DollyKit
import Foundation

/// The PEFT adapters and PEFT's logits of tools/fixtures/make_lora_reference.py, and ways to spoil a
/// copy of an adapter for the refusal tests.
enum LoRAFixtures {
    /// KL(PEFT || ours) at one position from PEFT's `top` most likely tokens (ids and log-probabilities
    /// of the fixture), the rest of each distribution as one bucket: a lower bound of the full KL.
    static func bucketedKL(_ row: [Float], ids: [Int32], logprobs logp: [Double], position pos: Int, top: Int) -> Double {
        let q = LoRAMergeTests.logSoftmax(row)
        var kl = 0.0, restP = 1.0, restQ = 1.0
        for k in 0..<top {
            let lp = logp[pos * top + k], lq = q[Int(ids[pos * top + k])]
            kl += exp(lp) * (lp - lq)
            restP -= exp(lp)
            restQ -= exp(lq)
        }
        if restP > 0 { kl += restP * log(restP / max(restQ, 1e-300)) }
        return kl
    }

    static let base = FixturePaths.path("tiny-safetensors")
    static func adapter(_ name: String) -> URL { FixturePaths.root.appendingPathComponent("lora/\(name)") }
    static let baseConfig: ModelConfig = try! ModelConfig.load(from: URL(fileURLWithPath: base).appendingPathComponent("config.json"))

    struct Reference: Decodable {
        struct Prompt: Decodable {
            let input_ids: [Int32]
            let max_abs_logit: Float
            let peft_probe_logits_f32_b64: String
            let merged_probe_logits_f32_b64: String
            let top_ids_i32_b64: String?
            let top_logprobs_f64_b64: String?
            let peft_greedy_ids: [Int32]
            let merged_greedy_ids: [Int32]
        }
        let probe_ids: [Int]
        let top: Int
        let prompts: [Prompt]
    }

    static let references: [String: Reference] = {
        let data = try! Data(contentsOf: FixturePaths.root.appendingPathComponent("lora_reference.json"))
        return try! JSONDecoder().decode([String: Reference].self, from: data)
    }()

    static func decode<T>(_ b64: String, as _: T.Type) -> [T] {
        let data = Data(base64Encoded: b64)!
        return data.withUnsafeBytes { raw in
            (0..<data.count / MemoryLayout<T>.size).map { raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self) }
        }
    }

    /// A copy of adapter `name` in `dir`, its config changed by `edit`.
    static func copy(_ name: String, to dir: URL, edit: (inout [String: Any]) -> Void = { _ in }) throws -> URL {
        let folder = dir.appendingPathComponent(name)
        try FileManager.default.copyItem(at: adapter(name), to: folder)
        let configURL = folder.appendingPathComponent("adapter_config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]).write(to: configURL)
        return folder
    }

    /// A safetensors file of f32 tensors (name, shape, values).
    static func safetensors(_ tensors: [(String, [Int], [Float])]) throws -> Data {
        var header: [String: Any] = [:]
        var body = Data()
        for (name, shape, values) in tensors {
            let start = body.count
            values.withUnsafeBytes { body.append(contentsOf: $0) }
            header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [start, body.count]]
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var file = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        return file + json + body
    }

    /// The tensors of a safetensors adapter as (name, shape, values), in name order.
    static func tensors(of folder: URL) throws -> [(String, [Int], [Float])] {
        let st = try SafetensorsCheckpoint(path: folder.appendingPathComponent("adapter_model.safetensors").path)
        return try st.tensorNames.sorted().map { n in
            let t = try st.tensor(named: n)
            return (n, t.shape, t.toFloat32())
        }
    }
}
