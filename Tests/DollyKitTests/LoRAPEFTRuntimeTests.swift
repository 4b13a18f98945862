import DollyKit
import Foundation
import XCTest

/// `dolly convert-lora` + `--lora` against PEFT itself (the fixtures of tools/fixtures/make_lora_reference.py):
/// the f32 base with each PEFT adapter applied at run time gives PeftModel's logits and greedy tokens,
/// and the merged f32 file's.
final class LoRAPEFTRuntimeTests: XCTestCase {
    static let dir = try! FixturePaths.temporaryDirectory("dolly-lora-runtime")
    static let baseF32 = try! LoRAMergeTests.convert(nil, recipe: .f32, to: dir)

    static func adapterFile(_ name: String, _ type: AdapterFile.ElementType) throws -> String {
        let path = dir.appendingPathComponent("\(name)-\(type.rawValue).dolly-lora").path
        if !FileManager.default.fileExists(atPath: path) {
            let peft = try PEFTAdapter(folder: LoRAFixtures.adapter(name), config: LoRAFixtures.baseConfig)
            try AdapterFile.convert(peft, base: LoRAFixtures.baseConfig, to: path, type: type)
        }
        return path
    }

    func logits(_ model: DollyModel, _ adapter: LoRAAdapter?, _ ids: [Int32]) throws -> [[Float]] {
        let session = try model.network.makeSession(contextLength: 64, batchSize: 16, kvType: .f32, threads: 2)
        session.adapter = adapter
        let vocab = model.config.vocabSize
        var rows: [[Float]] = []
        try session.evaluate(ids, logits: .all { _, l in
            for r in 0..<l.count / vocab { rows.append(Array(l[r * vocab..<(r + 1) * vocab])) }
        })
        return rows
    }

    func testRunTimeAdapterMatchesPEFT() throws {
        let model = try DollyModel.load(path: Self.baseF32)
        for name in LoRAMergeTests.adapters {
            let adapter = try LoRAAdapter(path: try Self.adapterFile(name, .f32), model: model.network)
            let merged = try DollyModel.load(path: LoRAMergeTests.files[name + "-f32"]!)
            let ref = LoRAFixtures.references[name]!
            var vsPeft: Float = 0, vsMerged: Float = 0, vsMergedFile: Float = 0
            for p in ref.prompts {
                let rows = try logits(model, adapter, p.input_ids), mergedRows = try logits(merged, nil, p.input_ids)
                let peft = LoRAFixtures.decode(p.peft_probe_logits_f32_b64, as: Float.self)
                let unload = LoRAFixtures.decode(p.merged_probe_logits_f32_b64, as: Float.self)
                for (pos, row) in rows.enumerated() {
                    for (k, id) in ref.probe_ids.enumerated() {
                        vsPeft = max(vsPeft, abs(row[id] - peft[pos * ref.probe_ids.count + k]) / p.max_abs_logit)
                        vsMerged = max(vsMerged, abs(row[id] - unload[pos * ref.probe_ids.count + k]) / p.max_abs_logit)
                    }
                    for (x, y) in zip(row, mergedRows[pos]) { vsMergedFile = max(vsMergedFile, abs(x - y) / p.max_abs_logit) }
                }
                let session = try model.network.makeSession(contextLength: 64, threads: 2)
                session.adapter = adapter
                let greedy = try TokenGenerator(session: session).generate(prompt: p.input_ids, maxNewTokens: p.peft_greedy_ids.count,
                                                                           sampling: .greedyDecoding, stopTokens: []) { _ in true }.tokens
                XCTAssertEqual(greedy, p.peft_greedy_ids, "\(name): greedy")
            }
            print(String(format: "lora %@: run-time f32 adapter on the f32 base vs PeftModel %.2e, vs merge_and_unload %.2e, vs the merged f32 file %.2e",
                         name, vsPeft, vsMerged, vsMergedFile))
            XCTAssertLessThanOrEqual(vsPeft, 1e-4, "\(name): vs PeftModel")
            XCTAssertLessThanOrEqual(vsMerged, 1e-4, "\(name): vs merge_and_unload")
            XCTAssertLessThanOrEqual(vsMergedFile, 1e-4, "\(name): vs the merged f32 file")
        }
    }
    /// At q8 and q4: the run-time adapter on the quantized base against PEFT by KL (PEFT's 64 most likely
    /// tokens and the rest as one bucket), beside the merged-then-quantized file (LoRAMergeTests), both printed.
    func testQuantizedBasesByKL() throws {
        let ref = LoRAFixtures.references["plain"]!
        let f32 = try DollyModel.load(path: LoRAMergeTests.files["plain-f32"]!)
        var report: [String] = []
        for (recipe, bound) in [(QuantizationRecipe.q8, 0.01), (.q4, 0.25)] {
            let base = try DollyModel.load(path: LoRAMergeTests.convert(nil, recipe: recipe, to: Self.dir))
            let merged = try DollyModel.load(path: LoRAMergeTests.files["plain-\(recipe.rawValue)"]!)
            var line = recipe.rawValue + ":"
            for (label, model, adapterType) in [("merged file", merged, nil), ("run-time f16", base, AdapterFile.ElementType.f16),
                                                ("run-time q8", base, .q8)] as [(String, DollyModel, AdapterFile.ElementType?)] {
                let adapter = try adapterType.map { try LoRAAdapter(path: try Self.adapterFile("plain", $0), model: model.network) }
                var bucketed = 0.0, full = 0.0, n = 0
                for p in ref.prompts {
                    let ids = LoRAFixtures.decode(p.top_ids_i32_b64!, as: Int32.self), logp = LoRAFixtures.decode(p.top_logprobs_f64_b64!, as: Double.self)
                    let ours = try logits(model, adapter, p.input_ids), exact = try logits(f32, nil, p.input_ids)
                    for (pos, row) in ours.enumerated() {
                        bucketed += LoRAFixtures.bucketedKL(row, ids: ids, logprobs: logp, position: pos, top: ref.top)
                        full += LoRAMergeTests.kl(exact[pos], row)
                        n += 1
                    }
                }
                bucketed /= Double(n)
                full /= Double(n)
                line += String(format: " %@ KL vs PEFT %.2e (vs merged f32 %.2e);", label, bucketed, full)
                XCTAssertLessThan(bucketed, bound, "\(recipe) \(label)")
            }
            report.append(line)
        }
        print("lora plain on quantized bases: " + report.joined(separator: " "))
    }
}
