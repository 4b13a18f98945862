import XCTest
@testable import DollyKit

/// Per-request adapters in the batch engine: slots on different adapters (and on none) share every
/// step, and each answer is the tokens its adapter gives alone in a session.
final class BatchEngineLoRATests: XCTestCase {
    static var model: DollyModel { PromptFidelityTests.demoModel }

    static let adapters: [LoRAAdapter] = {
        let dir = try! FixturePaths.temporaryDirectory("lora-batch")
        return (1...2).map { seed in
            let path = dir.appendingPathComponent("a\(seed).dolly-lora").path
            try! AdapterFile.write(LoRATestSupport.deltas(model.config, seed: UInt64(seed), amplitude: 0.12), to: path,
                                   type: .f16, base: model.config, identity: "seed \(seed)")
            return try! LoRAAdapter(path: path, model: model.network)
        }
    }()

    func alone(_ text: String, _ adapter: LoRAAdapter?) throws -> [Int32] {
        let session = try Self.model.network.makeSession(contextLength: 256, kvType: .f16)
        session.adapter = adapter
        return try Self.model.generate(GenerationRequest(text: text, maxNewTokens: 24, sampling: .greedyDecoding),
                                       session: session) { _ in true }.tokens
    }

    func testSlotsWithDifferentAdaptersShareSteps() async throws {
        let text = "Name three colors."
        let choices: [LoRAAdapter?] = [Self.adapters[0], Self.adapters[1], nil, Self.adapters[0]]
        let expected = try choices.map { try alone(text, $0) }
        XCTAssertNotEqual(expected[0], expected[2], "adapter 1 must change the answer")
        XCTAssertNotEqual(expected[1], expected[2], "adapter 2 must change the answer")
        let engine = try BatchEngine(model: Self.model, options: .init(parallel: 4, context: 256, stepRows: 64))
        defer { engine.shutdown(grace: 0) }
        let prompt = try Self.model.promptTokens(for: GenerationRequest(text: text))
        // Twice: the second round finds every slot's cache holding the same prompt under some adapter,
        // and must reuse it only under the same one.
        for round in 0..<2 {
            let streams = try choices.map { a in
                try engine.submit(BatchRequest(prompt: prompt, maxNewTokens: 24, sampling: .greedyDecoding, strip: true, adapter: a))
            }
            for (i, stream) in streams.enumerated() {
                var tokens: [Int32] = []
                for await event in stream { if case let .text(_, ids, _) = event { tokens += ids } }
                XCTAssertEqual(tokens, expected[i], "round \(round), request \(i)")
            }
        }
        XCTAssertGreaterThan(engine.statistics.steps, 0)
    }
}
