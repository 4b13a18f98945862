import DollyKit
import Foundation
import XCTest

/// Reading PEFT adapters (fixtures from tools/fixtures/make_lora_reference.py), and one clear error for
/// each thing PEFT can write that dolly does not apply.
final class PEFTAdapterTests: XCTestCase {
    let config = LoRAFixtures.baseConfig

    func open(_ folder: URL) throws -> PEFTAdapter { try PEFTAdapter(folder: folder, config: config) }

    func testPlainAdapter() throws {
        let a = try open(LoRAFixtures.adapter("plain"))
        XCTAssertEqual(a.rank, 4)
        XCTAssertEqual(a.alpha, 8)
        XCTAssertEqual(a.targets, LoRATarget.allCases)
        XCTAssertEqual(a.weightsFile, "adapter_model.safetensors")
        XCTAssertEqual(a.name, "plain")
        XCTAssertEqual(a.identity.count, 8)
        let h = config.hiddenSize, f = config.intermediateSize
        for layer in 0..<config.numHiddenLayers {
            for (t, outputs, inputs) in [(LoRATarget.queryKeyValue, 3 * h, h), (.dense, h, h), (.denseHToFourH, f, h), (.denseFourHToH, h, f)] {
                let p = try XCTUnwrap(try a.pair(layer: layer, target: t))
                XCTAssertEqual([p.rank, p.outputs, p.inputs], [4, outputs, inputs], "\(layer) \(t)")
                XCTAssertEqual(p.scale, 2)
                XCTAssertEqual(p.a.count, 4 * inputs)
                XCTAssertEqual(p.b.count, outputs * 4)
                XCTAssertTrue(p.a.contains { $0 != 0 } && p.b.contains { $0 != 0 }, "init_lora_weights=False: both non-zero")
            }
        }
        XCTAssertNil(try a.pair(layer: 7, target: .dense), "a layer the adapter does not have")
        // The values are the file's, in its layout.
        let st = try SafetensorsCheckpoint(path: LoRAFixtures.adapter("plain").appendingPathComponent("adapter_model.safetensors").path)
        let b = try st.tensor(named: "base_model.model.gpt_neox.layers.1.attention.query_key_value.lora_B.weight").toFloat32()
        XCTAssertEqual(try a.pair(layer: 1, target: .queryKeyValue)?.b, b)
    }

    func testRSLoRAScale() throws {
        let a = try open(LoRAFixtures.adapter("rslora"))
        XCTAssertTrue(a.useRSLoRA)
        XCTAssertEqual(try XCTUnwrap(a.pair(layer: 0, target: .dense)).scale, Float(16 / 8.0.squareRoot()), accuracy: 1e-6)
    }

    func testPickleAdapterWithPatterns() throws {
        let a = try open(LoRAFixtures.adapter("bin"))
        XCTAssertEqual(a.weightsFile, "adapter_model.bin")
        let down = try XCTUnwrap(a.pair(layer: 0, target: .denseFourHToH))
        XCTAssertEqual([down.rank, Int(down.scale)], [2, 6], "rank_pattern dense_4h_to_h: 2 -> 12 / 2")
        XCTAssertEqual(try XCTUnwrap(a.pair(layer: 1, target: .dense)).scale, 0.75, "alpha_pattern layers.1.attention.dense: 3 -> 3 / 4")
        XCTAssertEqual(try XCTUnwrap(a.pair(layer: 0, target: .dense)).scale, 3, "layer 0 keeps lora_alpha 12 / 4")
        XCTAssertNotEqual(a.identity, try open(LoRAFixtures.adapter("plain")).identity)
    }

    // MARK: - Refusals: each names its field

    func assertUnsupported(_ field: String, _ edit: @escaping (inout [String: Any]) -> Void,
                           file: StaticString = #filePath, line: UInt = #line) throws {
        let folder = try LoRAFixtures.copy("plain", to: scratchDirectory("lora"), edit: edit)
        XCTAssertThrowsError(try open(folder), field, file: file, line: line) { error in
            guard case let LoRAError.unsupported(f, _, _) = error else {
                return XCTFail("\(field): \(error)", file: file, line: line)
            }
            XCTAssertEqual(f, field, file: file, line: line)
            XCTAssertTrue(error.localizedDescription.contains(field), error.localizedDescription, file: file, line: line)
        }
    }

    func testRefusedConfigFields() throws {
        try assertUnsupported("use_dora") { $0["use_dora"] = true }
        try assertUnsupported("bias") { $0["bias"] = "lora_only" }
        try assertUnsupported("bias") { $0["bias"] = "all" }
        try assertUnsupported("modules_to_save") { $0["modules_to_save"] = ["embed_out"] }
        try assertUnsupported("fan_in_fan_out") { $0["fan_in_fan_out"] = true }
        try assertUnsupported("peft_type") { $0["peft_type"] = "IA3" }
        try assertUnsupported("lora_bias") { $0["lora_bias"] = true }
        try assertUnsupported("target_modules") { $0["target_modules"] = ["query_key_value", "embed_in"] }
        try assertUnsupported("target_modules") { $0["target_modules"] = ["embed_out", "dense"] }
        try assertUnsupported("target_modules") { $0["target_modules"] = ["c_attn"] }
        try assertUnsupported("target_modules") { $0["target_modules"] = ".*embed_in" }
        try assertUnsupported("layers_to_transform") { $0["layers_to_transform"] = [5] }
        try assertUnsupported("use_qalora") { $0["use_qalora"] = true }
        try assertUnsupported("trainable_token_indices") { $0["trainable_token_indices"] = [1, 2] }
        try assertUnsupported("target_parameters") { $0["target_parameters"] = ["mlp.experts.weight"] }
    }

    func testAcceptedTargetSpellings() throws {
        // A regular expression selecting the four, and full module paths as list entries.
        for targets: Any in [#".*\.(query_key_value|dense|dense_h_to_4h|dense_4h_to_h)"#,
                             ["attention.query_key_value", "attention.dense", "mlp.dense_h_to_4h", "mlp.dense_4h_to_h"]] {
            let folder = try LoRAFixtures.copy("plain", to: scratchDirectory("lora")) { $0["target_modules"] = targets }
            XCTAssertEqual(try open(folder).targets, LoRATarget.allCases, "\(targets)")
        }
    }

    func assertTensorError(_ spoil: ([(String, [Int], [Float])]) -> [(String, [Int], [Float])], config edit: @escaping (inout [String: Any]) -> Void = { _ in },
                           _ check: (LoRAError) -> Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let folder = try LoRAFixtures.copy("plain", to: scratchDirectory("lora"), edit: edit)
        let weights = folder.appendingPathComponent("adapter_model.safetensors")
        try LoRAFixtures.safetensors(spoil(try LoRAFixtures.tensors(of: folder))).write(to: weights)
        XCTAssertThrowsError(try open(folder), file: file, line: line) { error in
            guard let e = error as? LoRAError, check(e) else { return XCTFail("\(error)", file: file, line: line) }
        }
    }

    func testTensorRefusals() throws {
        let qkvA = "base_model.model.gpt_neox.layers.0.attention.query_key_value.lora_A.weight"
        // Missing B of one module.
        try assertTensorError({ $0.filter { !$0.0.hasSuffix("layers.1.mlp.dense_4h_to_h.lora_B.weight") } }) {
            if case let .missingTensor(_, t) = $0 { return t.hasSuffix("layers.1.mlp.dense_4h_to_h.lora_B.weight") }
            return false
        }
        // DoRA's magnitude vector, or any other extra tensor.
        try assertTensorError({ $0 + [("base_model.model.gpt_neox.layers.0.attention.dense.lora_magnitude_vector", [32], [Float](repeating: 1, count: 32))] }) {
            if case let .unexpectedTensor(_, t) = $0 { return t.hasSuffix("lora_magnitude_vector") }
            return false
        }
        // A shape that does not fit the base (33 inputs for a 32-wide model).
        try assertTensorError({ $0.map { $0.0 == qkvA ? ($0.0, [4, 33], [Float](repeating: 0.1, count: 132)) : $0 } }) {
            if case let .badTensor(_, t, reason) = $0 { return t == qkvA && reason.contains("[4, 33]") }
            return false
        }
        // The config's r against the tensors' rank.
        try assertTensorError({ $0 }, config: { $0["r"] = 8 }) {
            if case let .badTensor(_, _, reason) = $0 { return reason.contains("rank 4") && reason.contains("r says 8") }
            return false
        }
        // Non-finite values are refused when read.
        let folder = try LoRAFixtures.copy("plain", to: scratchDirectory("lora"))
        let tensors = try LoRAFixtures.tensors(of: folder).map { $0.0 == qkvA ? ($0.0, $0.1, [Float.nan] + $0.2.dropFirst()) : $0 }
        try LoRAFixtures.safetensors(tensors).write(to: folder.appendingPathComponent("adapter_model.safetensors"))
        let adapter = try open(folder)
        XCTAssertThrowsError(try adapter.pair(layer: 0, target: .queryKeyValue)) { XCTAssertTrue("\($0)".contains("non-finite") || $0.localizedDescription.contains("non-finite")) }
    }

    func testMissingFilesAndHostileWeights() throws {
        let dir = try scratchDirectory("lora")
        XCTAssertThrowsError(try open(dir.appendingPathComponent("nowhere"))) { XCTAssertEqual($0 as? LoRAError, .missingFile(dir.appendingPathComponent("nowhere").path)) }
        let noWeights = try LoRAFixtures.copy("plain", to: dir)
        let weights = noWeights.appendingPathComponent("adapter_model.safetensors")
        let good = try Data(contentsOf: weights)
        try FileManager.default.removeItem(at: weights)
        XCTAssertThrowsError(try open(noWeights)) { XCTAssertEqual($0 as? LoRAError, .missingFile(weights.path)) }
        // Truncated: the data section ends early.
        try good.prefix(good.count - 100).write(to: weights)
        XCTAssertThrowsError(try open(noWeights)) { XCTAssertTrue($0 is CheckpointError, "\($0)") }
        // A header length far past the file.
        var hostile = good
        hostile.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { Data($0) })
        try hostile.write(to: weights)
        XCTAssertThrowsError(try open(noWeights)) { XCTAssertTrue($0 is CheckpointError, "\($0)") }
        // A config that is not JSON.
        try good.write(to: weights)
        try Data("{r: 4".utf8).write(to: noWeights.appendingPathComponent("adapter_config.json"))
        XCTAssertThrowsError(try open(noWeights)) {
            guard case .badConfig = $0 as? LoRAError else { return XCTFail("\($0)") }
        }
    }

    func testDamagedPickleAdapterIsRefused() throws {
        let folder = try LoRAFixtures.copy("bin", to: scratchDirectory("lora"))
        let weights = folder.appendingPathComponent("adapter_model.bin")
        var bytes = try Data(contentsOf: weights)
        bytes[bytes.count / 2] ^= 0x40  // inside a storage: the zip CRC catches it
        try bytes.write(to: weights)
        XCTAssertThrowsError(try open(folder)) { XCTAssertTrue($0 is CheckpointError, "\($0)") }
    }
}
