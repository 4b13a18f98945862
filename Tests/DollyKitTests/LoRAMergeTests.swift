import DollyKit
import Foundation
import XCTest

/// `dolly convert --lora` against PEFT itself (tools/fixtures/make_lora_reference.py): PeftModel's and
/// merge_and_unload()'s fp32 logits on the tiny checkpoint, for three adapters (plain, rsLoRA, and a
/// pickle .bin with rank and alpha patterns).
final class LoRAMergeTests: XCTestCase {
    static let adapters = ["plain", "rslora", "bin"]

    static func convert(_ adapter: String?, recipe: QuantizationRecipe, scale: Double = 1, to dir: URL) throws -> String {
        var c = Converter(sourceDirectory: LoRAFixtures.base, recipe: recipe)
        c.threads = 2
        c.lora = try adapter.map { try LoRAMerge(adapter: PEFTAdapter(folder: LoRAFixtures.adapter($0), config: LoRAFixtures.baseConfig), scale: scale) }
        let path = dir.appendingPathComponent("\(adapter ?? "base")-\(recipe.rawValue)-\(scale).dolly").path
        _ = try c.convert(to: path)
        return path
    }

    /// Merged files, made once per test process: every adapter at f32, the plain one at q8 and q4 too.
    static let files: [String: String] = {
        let dir = try! FixturePaths.temporaryDirectory("dolly-lora")
        var out: [String: String] = [:]
        for a in adapters { out[a + "-f32"] = try! convert(a, recipe: .f32, to: dir) }
        for r in [QuantizationRecipe.q8, .q4] { out["plain-\(r.rawValue)"] = try! convert("plain", recipe: r, to: dir) }
        return out
    }()

    /// Every position's logits of `ids`.
    static func logits(_ model: DollyModel, _ ids: [Int32], adapter: LoRAAdapter? = nil) throws -> [[Float]] {
        // An f32 cache: f16 keys and values alone would round logits by about 1e-4 of their size.
        let session = try model.network.makeSession(contextLength: 64, batchSize: 16, kvType: .f32, threads: 2)
        session.adapter = adapter
        let vocab = model.config.vocabSize
        var rows: [[Float]] = []
        try session.evaluate(ids, logits: .all { _, logits in
            for r in 0..<logits.count / vocab { rows.append(Array(logits[r * vocab..<(r + 1) * vocab])) }
        })
        return rows
    }

    static func greedy(_ model: DollyModel, _ ids: [Int32], _ n: Int) throws -> [Int32] {
        let session = try model.network.makeSession(contextLength: 64, threads: 2)
        return try TokenGenerator(session: session).generate(prompt: ids, maxNewTokens: n, sampling: .greedyDecoding,
                                                             stopTokens: []) { _ in true }.tokens
    }

    /// Largest |ours - theirs| over every position and probe id, relative to the prompt's largest |logit|.
    func worstRelative(_ model: DollyModel, _ adapter: String, merged: Bool = false, runtime: LoRAAdapter? = nil) throws -> Float {
        let ref = LoRAFixtures.references[adapter]!
        var worst: Float = 0
        for p in ref.prompts {
            let rows = try Self.logits(model, p.input_ids, adapter: runtime)
            let probes = LoRAFixtures.decode(merged ? p.merged_probe_logits_f32_b64 : p.peft_probe_logits_f32_b64, as: Float.self)
            for (pos, row) in rows.enumerated() {
                for (k, id) in ref.probe_ids.enumerated() {
                    worst = max(worst, abs(row[id] - probes[pos * ref.probe_ids.count + k]) / p.max_abs_logit)
                }
            }
        }
        return worst
    }

    func testMergedF32FileMatchesPEFT() throws {
        for a in Self.adapters {
            let model = try DollyModel.load(path: Self.files[a + "-f32"]!)
            let vsPeft = try worstRelative(model, a), vsMerged = try worstRelative(model, a, merged: true)
            print(String(format: "lora %@: merged f32 file vs PeftModel %.2e, vs merge_and_unload %.2e (relative to max |logit|)", a, vsPeft, vsMerged))
            XCTAssertLessThanOrEqual(vsPeft, 1e-4, "\(a): vs PeftModel")
            XCTAssertLessThanOrEqual(vsMerged, 1e-4, "\(a): vs merge_and_unload")
            for p in LoRAFixtures.references[a]!.prompts {
                XCTAssertEqual(try Self.greedy(model, p.input_ids, p.peft_greedy_ids.count), p.peft_greedy_ids, "\(a): greedy")
                XCTAssertEqual(p.merged_greedy_ids, p.peft_greedy_ids)
            }
        }
    }

    func testMetadataRecordsTheAdapter() throws {
        let file = try DollyFile(path: Self.files["bin-f32"]!)
        let record = try XCTUnwrap(file.metadata.lora?.first)
        let adapter = try PEFTAdapter(folder: LoRAFixtures.adapter("bin"), config: LoRAFixtures.baseConfig)
        XCTAssertEqual(record, FileMetadata.MergedAdapter(name: "bin", file: "adapter_model.bin", identity: adapter.identity, r: 4, alpha: 12,
                                                          rslora: nil, scale: 1, targets: LoRATarget.allCases.map(\.rawValue),
                                                          baseModel: "Tests/Fixtures/tiny-safetensors"))
        XCTAssertEqual(try DollyFile(path: Self.files["rslora-f32"]!).metadata.lora?.first?.rslora, true)
        XCTAssertEqual(file.header.minor, 0, "an optional metadata key: still a 1.0 file")
        XCTAssertNoThrow(try file.verify())
    }

    /// KL(PEFT || ours) over PEFT's 64 most likely tokens and the rest as one bucket (a lower bound of the
    /// full KL, all the fixture holds), and over the whole vocabulary against the merged f32 file.
    func testQuantizedMergesByKL() throws {
        let ref = LoRAFixtures.references["plain"]!
        let f32 = try DollyModel.load(path: Self.files["plain-f32"]!)
        var report: [String] = []
        // The same quantization of the base alone, for scale: the tiny random model is hard on 4 bits.
        let dir = try scratchDirectory("lora")
        let baseF32 = try DollyModel.load(path: Self.convert(nil, recipe: .f32, to: dir))
        for (recipe, bound) in [(QuantizationRecipe.q8, 0.01), (.q4, 0.25)] {
            let base = try DollyModel.load(path: Self.convert(nil, recipe: recipe, to: dir))
            var baseKL = 0.0
            for p in ref.prompts { baseKL += zip(try Self.logits(baseF32, p.input_ids), try Self.logits(base, p.input_ids)).reduce(0.0) { $0 + Self.kl($1.0, $1.1) } }
            let recipe = recipe.rawValue
            let model = try DollyModel.load(path: Self.files["plain-\(recipe)"]!)
            var bucketed = 0.0, full = 0.0, n = 0
            for p in ref.prompts {
                let ids = LoRAFixtures.decode(p.top_ids_i32_b64!, as: Int32.self), logp = LoRAFixtures.decode(p.top_logprobs_f64_b64!, as: Double.self)
                let ours = try Self.logits(model, p.input_ids), exact = try Self.logits(f32, p.input_ids)
                for (pos, row) in ours.enumerated() {
                    bucketed += LoRAFixtures.bucketedKL(row, ids: ids, logprobs: logp, position: pos, top: ref.top)
                    full += Self.kl(exact[pos], row)
                    n += 1
                }
            }
            bucketed /= Double(n)
            full /= Double(n)
            report.append(String(format: "%@: KL vs PEFT (top 64 + rest) %.2e, full-vocabulary KL vs merged f32 %.2e (base alone vs base f32: %.2e)",
                                 recipe, bucketed, full, baseKL / Double(n)))
            XCTAssertLessThan(bucketed, bound, recipe)
            XCTAssertLessThan(full, bound, recipe)
        }
        print("lora plain merged at " + report.joined(separator: "; "))
    }

    /// The merge applied at run time from memory, as `dolly imatrix --lora` runs it: on Hugging Face's rows
    /// and on a file's split rows.
    func testRuntimeMergeMatchesPEFT() throws {
        let merge = try LoRAMerge(adapter: PEFTAdapter(folder: LoRAFixtures.adapter("plain"), config: LoRAFixtures.baseConfig))
        let folder = try DollyModel.load(path: LoRAFixtures.base)
        let onFolder = try merge.runtimeAdapter(config: folder.config, qkvLayout: folder.network.weights.qkvLayout)
        XCTAssertLessThanOrEqual(try worstRelative(folder, "plain", runtime: onFolder), 1e-4, "Hugging Face folder")
        let file = try DollyModel.load(path: Self.convert(nil, recipe: .f32, to: scratchDirectory("lora")))
        XCTAssertEqual(file.network.weights.qkvLayout, .split)
        let onFile = try merge.runtimeAdapter(config: file.config, qkvLayout: .split)
        XCTAssertLessThanOrEqual(try worstRelative(file, "plain", runtime: onFile), 1e-4, ".dolly file (split query/key/value rows)")
        XCTAssertEqual(onFile.identity, merge.calibrationIdentity)
    }

    func testZeroScaleLeavesTheWeights() throws {
        let dir = try scratchDirectory("lora")
        let base = try DollyFile(path: Self.convert(nil, recipe: .q4, to: dir))
        let zero = try DollyFile(path: Self.convert("plain", recipe: .q4, scale: 0, to: dir))
        XCTAssertEqual(base.metadata.tensors, zero.metadata.tensors, "same bytes in every tensor")
        XCTAssertEqual(zero.metadata.lora?.first?.scale, 0)
        XCTAssertThrowsError(try LoRAMerge(adapter: PEFTAdapter(folder: LoRAFixtures.adapter("plain"), config: LoRAFixtures.baseConfig), scale: .nan))
    }

    func testFailedMergeWritesNothing() throws {
        let dir = try scratchDirectory("lora")
        // NaN in the last layer's last matrix: the adapter opens (values are read when merged) and the
        // conversion fails after most of the file is written.
        let folder = try LoRAFixtures.copy("plain", to: dir)
        let last = "base_model.model.gpt_neox.layers.1.mlp.dense_4h_to_h.lora_B.weight"
        let tensors = try LoRAFixtures.tensors(of: folder).map { $0.0 == last ? ($0.0, $0.1, $0.2.dropLast() + [Float.nan]) : $0 }
        try LoRAFixtures.safetensors(tensors).write(to: folder.appendingPathComponent("adapter_model.safetensors"))
        var c = Converter(sourceDirectory: LoRAFixtures.base, recipe: .q8)
        c.lora = try LoRAMerge(adapter: PEFTAdapter(folder: folder, config: LoRAFixtures.baseConfig))
        let out = dir.appendingPathComponent("out.dolly").path
        XCTAssertThrowsError(try c.convert(to: out)) { XCTAssertTrue($0.localizedDescription.contains("non-finite"), $0.localizedDescription) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["plain"], "no output, no temporary")
    }

    // MARK: - Helpers

    static func logSoftmax(_ row: [Float]) -> [Double] {
        let m = Double(row.max()!)
        let lse = m + log(row.reduce(0.0) { $0 + exp(Double($1) - m) })
        return row.map { Double($0) - lse }
    }

    static func kl(_ p: [Float], _ q: [Float]) -> Double {
        let lp = logSoftmax(p), lq = logSoftmax(q)
        return zip(lp, lq).reduce(0.0) { $0 + exp($1.0) * ($1.0 - $1.1) }
    }
}
