import CSIMD
import DollyKit
import Foundation
import XCTest

/// The f32 forward pass against transformers' fp32 output on the same checkpoints
/// (fixtures from tools/fixtures/make_fixtures.py).
final class ReferenceModelTests: XCTestCase {
    struct Reference: Decodable {
        struct Prompt: Decodable {
            let name: String
            let text: String
            let raw: Bool
            let input_ids: [Int32]
            let last_logits_f32_b64: String
            let max_abs_logit: Float
            let probe_ids: [Int]
            let probe_logits_f32_b64: String
            let greedy_ids: [Int32]
        }
        let prompts: [Prompt]
    }

    static let references: [String: Reference] = {
        let data = try! Data(contentsOf: FixturePaths.root.appendingPathComponent("reference.json"))
        return try! JSONDecoder().decode([String: Reference].self, from: data)
    }()

    static func floats(_ b64: String) -> [Float] {
        let data = Data(base64Encoded: b64)!
        return data.withUnsafeBytes { raw in (0..<data.count / 4).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } }
    }

    func checkLogits(folder: String, reference: String) throws {
        let model = try DollyModel.load(path: FixturePaths.path(folder))
        let session = try model.network.makeSession(contextLength: 256, batchSize: 7, threads: 2)
        let vocab = model.config.vocabSize
        for p in Self.references[reference]!.prompts {
            // reference.json tokenized the upstream template (tools/fixtures/dolly_template.py) with `tokenizers`.
            XCTAssertEqual(try model.promptTokens(for: GenerationRequest(text: p.text, raw: p.raw)), p.input_ids,
                           "\(folder)/\(p.name): prompt ids")
            let tolerance = 1e-3 * p.max_abs_logit
            let probes = Self.floats(p.probe_logits_f32_b64)
            var worst: Float = 0
            session.reset()
            try session.evaluate(p.input_ids, logits: .all { first, logits in
                for row in 0..<logits.count / vocab {
                    for (k, id) in p.probe_ids.enumerated() {
                        let expected = probes[(first + row) * p.probe_ids.count + k]
                        worst = max(worst, abs(logits[row * vocab + id] - expected))
                    }
                }
            })
            XCTAssertLessThanOrEqual(worst, tolerance, "\(folder)/\(p.name): logits at every position")

            session.reset()
            try session.evaluate(p.input_ids)
            let last = Self.floats(p.last_logits_f32_b64)
            let lastError = zip(session.lastLogits, last).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(lastError, tolerance, "\(folder)/\(p.name): last-position logits")
        }
    }

    func checkGreedy(folder: String, reference: String) throws {
        let model = try DollyModel.load(path: FixturePaths.path(folder))
        let session = try model.network.makeSession(contextLength: 256)
        for p in Self.references[reference]!.prompts {
            session.reset()
            // transformers ran 32 steps with no stop token, so we do too.
            let result = try TokenGenerator(session: session).generate(
                prompt: p.input_ids, maxNewTokens: 32, sampling: .greedyDecoding, stopTokens: []) { _ in true }
            XCTAssertEqual(result.tokens, p.greedy_ids, "\(folder)/\(p.name): greedy continuation")
        }
    }

    func testLogitsMatchTransformersBin() throws { try checkLogits(folder: "tiny-bin", reference: "parallel") }
    func testLogitsMatchTransformersSafetensors() throws { try checkLogits(folder: "tiny-safetensors", reference: "parallel") }
    func testLogitsMatchTransformersSharded() throws { try checkLogits(folder: "tiny-sharded", reference: "parallel") }
    func testLogitsMatchTransformersSequential() throws { try checkLogits(folder: "tiny-sequential", reference: "sequential") }
    func testGreedyMatchesTransformersParallel() throws { try checkGreedy(folder: "tiny-bin", reference: "parallel") }
    func testGreedyMatchesTransformersSequential() throws { try checkGreedy(folder: "tiny-sequential", reference: "sequential") }

    /// Greedy output is a property of the model, not of the machine: identical on every kernel path
    /// this CPU runs, at 1 and 2 threads, with f16 and f32 KV caches, for bf16 and Q8 weights.
    func testGreedyIdenticalAcrossKernelPathsThreadsAndCaches() throws {
        let dir = try FixturePaths.temporaryDirectory("dolly-paths")
        defer { try? FileManager.default.removeItem(at: dir) }
        let q8Path = dir.appendingPathComponent("q8.dolly").path
        _ = try Converter(sourceDirectory: FixturePaths.path("tiny-bin"), recipe: .q8).convert(to: q8Path)
        for path in [FixturePaths.path("tiny-bin"), q8Path] {
            let model = try DollyModel.load(path: path)
            var outputs: [[[Int32]]] = []
            try forEachKernelPath { _ in
                for threads in [1, 2] {
                    for kv in [KVCacheType.f16, .f32] {  // q8 rounds K/V: DemoQuantizationTests measures it
                        let session = try model.network.makeSession(contextLength: 128, kvType: kv, threads: threads)
                        outputs.append(try Self.references["parallel"]!.prompts.map { p in
                            session.reset()
                            return try TokenGenerator(session: session).generate(
                                prompt: p.input_ids, maxNewTokens: 16, sampling: .greedyDecoding, stopTokens: []) { _ in true }.tokens
                        })
                    }
                }
            }
            XCTAssertGreaterThan(outputs.count, 4)
            for o in outputs.dropFirst() { XCTAssertEqual(o, outputs[0], path) }
        }
    }

    /// The batch size a prompt is split into must not change the result.
    func testBatchingDoesNotChangeLogits() throws {
        let model = try DollyModel.load(path: FixturePaths.path("tiny-bin"))
        let prompt = Self.references["parallel"]!.prompts.last!.input_ids
        var results: [[Float]] = []
        for batch in [1, 3, 64] {
            let session = try model.network.makeSession(contextLength: 256, batchSize: batch)
            try session.evaluate(prompt)
            results.append(Array(session.lastLogits))
        }
        for r in results.dropFirst() {
            XCTAssertLessThan(zip(r, results[0]).map { abs($0 - $1) }.max()!, 1e-4)
        }
    }
}
