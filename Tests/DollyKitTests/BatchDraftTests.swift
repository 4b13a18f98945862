import CSIMD
import XCTest
@testable import DollyKit

/// `serve --draft`: the batch engine's slots guess with a draft model (every slot's guesses in the same
/// draft passes) and check them in the model's pass. Greedy answers are the engine's without a draft,
/// token for token, on every kernel path, whether the draft guesses well (the demo drafting for itself)
/// or badly (a random-weight model with the same tokenizer); sampled ones come out the same for a seed.
final class BatchDraftTests: XCTestCase {
    func testGreedyAnswersAreTheSameWithADraftOnEveryKernelPath() async throws {
        let model = BatchEngineTests.model
        let lookup = BatchLookupTests.self
        let requests = try lookup.requests([SamplingParameters.greedyDecoding])
        var kept: [String: (Int, Int)] = [:]
        for path in allKernelPaths where csimd_kernel_supported(path) == 1 {
            let saved = String(cString: csimd_kernel_name())
            _ = csimd_kernel_force(path)
            defer { _ = csimd_kernel_force(saved) }
            let plainEngine = try BatchEngine(model: model, options: .init(parallel: 3, context: 256))
            let plain = try await lookup.answers(plainEngine, requests)
            plainEngine.shutdown(grace: 0)
            let drafts = [("demo", try DollyModel.load(path: ConversationTests.demo)),
                          ("random", try DollyModel.load(path: DraftModelTests.tinyPath))]
            // Three slots for six requests (queued ones reuse slots and draft caches), and two slots in
            // steps of 6 rows (guesses share the rows left after one per slot).
            for (name, draft) in drafts {
                for (parallel, stepRows, n) in [(3, 64, 4), (2, 6, 8)] {
                    let engine = try BatchEngine(model: model, options: .init(parallel: parallel, context: 256, stepRows: stepRows,
                                                                              draft: draft, draftMax: n))
                    let fast = try await lookup.answers(engine, requests)
                    let stats = engine.statistics
                    engine.shutdown(grace: 0)
                    for (i, (a, b)) in zip(fast, plain).enumerated() {
                        XCTAssertEqual(a.0, b.0, "\(path) \(name) parallel \(parallel) rows \(stepRows) draft \(n): request \(i)")
                        XCTAssertEqual(a.1, b.1)
                        XCTAssertEqual(a.2, b.2)
                    }
                    let sum = kept[name] ?? (0, 0)
                    kept[name] = (sum.0 + stats.acceptedTokens, sum.1 + stats.draftedTokens)
                }
            }
        }
        let demo = kept["demo"]!, random = kept["random"]!
        XCTAssertGreaterThan(Double(demo.0), 0.8 * Double(demo.1), "the demo drafting for itself is mostly right: \(demo)")
        XCTAssertLessThan(random.0, random.1 / 2, "a random model is mostly wrong: \(random)")
    }

    func testSampledAnswersAreReproducibleWithADraft() async throws {
        let model = BatchEngineTests.model
        let lookup = BatchLookupTests.self
        let requests = try lookup.requests([SamplingParameters(temperature: 0.9, seed: 7),
                                            SamplingParameters(temperature: 1, topP: 0.9, seed: 8)])
        let draft = try DollyModel.load(path: DraftModelTests.tinyPath)
        var runs: [[([Int32], String, StopReason)]] = []
        for _ in 0..<2 {
            let engine = try BatchEngine(model: model, options: .init(parallel: 3, context: 256, draft: draft, draftMax: 3))
            runs.append(try await lookup.answers(engine, requests))
            XCTAssertGreaterThan(engine.statistics.draftedTokens, 0)
            engine.shutdown(grace: 0)
        }
        for (a, b) in zip(runs[0], runs[1]) {
            XCTAssertEqual(a.0, b.0)
            XCTAssertFalse(a.0.isEmpty)
        }
    }

    func testADraftWithAnotherTokenizerOrBesideLookupIsRefused() throws {
        let model = BatchEngineTests.model
        XCTAssertThrowsError(try BatchEngine(model: model, options: .init(parallel: 1, context: 256, lookup: PromptLookup(),
                                                                         draft: model))) { error in
            XCTAssertTrue(error.localizedDescription.contains("two sources of guesses"), error.localizedDescription)
        }
    }
}
