import DollyKit
import Foundation
import XCTest

/// Dolly's prompt and the sampling controls against transformers run on the upstream template
/// (Tests/Fixtures/prompt_reference.json, from tools/fixtures/make_prompt_reference.py, which takes the
/// template from databrickslabs/dolly training/consts.py via tools/fixtures/dolly_template.py).
final class PromptFidelityTests: XCTestCase {
    struct Case: Decodable {
        let instruction: String
        let context: String?
        let prompt_text: String
        let prompt_ids: [Int32]
        let max_new_tokens: Int
        let greedy_ids: [Int32]
        let greedy_processed_ids: [Int32]
    }
    struct Processors: Decodable {
        let last_logits_f32_b64: String
        let repetition_penalty: Float
        let penalized_ids: [Int32]
        let penalized_values: [Float]
        let top_ids_after_penalty: [Int32]
        let top_values_after_penalty: [Float]
        let ngram_history: [Int32]
        let ngram_banned: [String: [Int32]]
        let min_p: Float
        let min_p_kept_ids: [Int32]
    }
    struct Sampled: Decodable {
        struct Parameters: Decodable {
            let temperature: Float
            let top_k: Int
            let top_p: Float
            let min_p: Float
            let repetition_penalty: Float
            let no_repeat_ngram_size: Int
        }
        struct Step: Decodable { let ids: [Int32]; let values: [Float] }
        let parameters: Parameters
        let prompt_ids: [Int32]
        let tokens: [Int32]
        let steps: [Step]
    }
    struct Generated: Decodable {
        let hidden: Int, heads: Int, layers: Int, max_pos: Int, vocab: Int
        let cases: [Case]
        let processors: Processors
        let sampled: Sampled
    }
    struct Demo: Decodable { let cases: [Case] }
    struct Reference: Decodable { let generated: Generated; let demo: Demo }

    static let reference: Reference = {
        let data = try! Data(contentsOf: FixturePaths.root.appendingPathComponent("prompt_reference.json"))
        return try! JSONDecoder().decode(Reference.self, from: data)
    }()

    static let generatedModel: DollyModel = {
        let g = reference.generated
        let dir = try! FixturePaths.temporaryDirectory("dolly-prompt-model")
        try! GeneratedCheckpoint.write(hidden: g.hidden, heads: g.heads, vocab: g.vocab, layers: g.layers,
                                       maxPositions: g.max_pos, to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        return try! DollyModel.load(path: dir.path)
    }()

    static let demoModel: DollyModel = try! DollyModel.load(path: FixturePaths.root.deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/dolly-demo").path)

    /// The upstream text, spelled out here (databrickslabs/dolly training/consts.py,
    /// PROMPT_FOR_GENERATION_FORMAT; context as the dolly-v2 model card's "{instruction}\n\nInput:\n{context}").
    func testTemplateIsTheUpstreamText() {
        XCTAssertEqual(DollyPrompt.format(instruction: "Name a color."), """
            Below is an instruction that describes a task. Write a response that appropriately completes the request.

            ### Instruction:
            Name a color.

            ### Response:

            """)
        XCTAssertEqual(DollyPrompt.format(instruction: "Who wrote it?", context: "A line.\n\nAnother."), """
            Below is an instruction that describes a task. Write a response that appropriately completes the request.

            ### Instruction:
            Who wrote it?

            Input:
            A line.

            Another.

            ### Response:

            """)
        for c in Self.reference.generated.cases {
            XCTAssertEqual(DollyPrompt.format(instruction: c.instruction, context: c.context), c.prompt_text)
        }
    }

    /// The ids the runtime feeds the model equal transformers' tokenization of the template, and
    /// greedy decoding through the library's generation path gives transformers' tokens.
    func checkCases(_ cases: [Case], model: DollyModel, label: String) throws {
        let session = try model.network.makeSession(contextLength: 256, kvType: .f32)
        for c in cases {
            let request = GenerationRequest(text: c.instruction, context: c.context, maxNewTokens: c.max_new_tokens,
                                            sampling: .greedyDecoding)
            XCTAssertEqual(try model.promptTokens(for: request), c.prompt_ids, "\(label) \(c.instruction): prompt ids")
            for (sampling, expected) in [(SamplingParameters.greedyDecoding, c.greedy_ids),
                                         (SamplingParameters(greedy: true, repetitionPenalty: 1.3, noRepeatNgramSize: 2),
                                          c.greedy_processed_ids)] {
                var r = request
                r.sampling = sampling
                var text = ""
                let result = try model.generate(r, session: session) { text += $0; return true }
                let stopped = expected.last.map(model.stopTokens.contains) ?? false
                XCTAssertEqual(result.tokens, stopped ? Array(expected.dropLast()) : expected,
                               "\(label) \(c.instruction) \(sampling)")
                XCTAssertEqual(result.stopReason, stopped ? .stopToken : .maxTokens, "\(label) \(c.instruction)")
                // The answer is the decoded tokens, stripped as Dolly's pipeline strips it.
                XCTAssertEqual(text, model.tokenizer.decode(result.tokens).trimmingCharacters(in: .whitespacesAndNewlines))
                // `dolly compare`'s greedy trace applies the same processors.
                let trace = try model.greedyTrace(prompt: c.prompt_ids, maxNewTokens: expected.count, session: session,
                                                  sampling: sampling)
                XCTAssertEqual(trace.tokens, expected, "\(label) \(c.instruction): greedy trace")
            }
        }
    }

    func testInstructionPromptsGiveTransformersGreedyTokens() throws {
        XCTAssertTrue(Self.reference.generated.cases.contains { $0.context != nil })
        XCTAssertTrue(Self.reference.generated.cases.contains { $0.context == nil })
        try forEachKernelPath { kernel in
            try checkCases(Self.reference.generated.cases, model: Self.generatedModel, label: "generated \(kernel)")
        }
    }

    func testDemoModelGivesTransformersGreedyAnswers() throws {
        // On the trained model the processors change the answers, so the greedy check covers them.
        XCTAssertTrue(Self.reference.demo.cases.allSatisfy { $0.greedy_ids != $0.greedy_processed_ids })
        try checkCases(Self.reference.demo.cases, model: Self.demoModel, label: "demo")
    }

    func testProcessorsMatchTransformers() {
        let p = Self.reference.generated.processors
        let logits = ReferenceModelTests.floats(p.last_logits_f32_b64)
        let prompt = Self.reference.generated.cases[0].prompt_ids
        logits.withUnsafeBufferPointer { buf in
            // Repetition penalty: every id of the prompt, once, divided or multiplied by the penalty.
            var s = Sampler(SamplingParameters(greedy: true, repetitionPenalty: p.repetition_penalty))
            let penalized = s.processedLogits(buf, history: TokenHistory(prompt))
            for (id, value) in zip(p.penalized_ids, p.penalized_values) {
                XCTAssertEqual(penalized[Int(id)], value, accuracy: 1e-6 * max(1, abs(value)), "id \(id)")
            }
            for (id, value) in zip(p.top_ids_after_penalty, p.top_values_after_penalty) {
                XCTAssertEqual(penalized[Int(id)], value, accuracy: 1e-6 * max(1, abs(value)), "id \(id)")
            }
            let untouched = Set(p.penalized_ids)
            XCTAssertTrue((0..<logits.count).allSatisfy { untouched.contains(Int32($0)) || penalized[$0] == logits[$0] })

            // No-repeat n-gram, sizes 1-3: exactly transformers' banned ids go to -inf.
            for (n, banned) in p.ngram_banned {
                var s = Sampler(SamplingParameters(greedy: true, noRepeatNgramSize: Int(n)!))
                let out = s.processedLogits(buf, history: TokenHistory(p.ngram_history))
                let ours = (0..<out.count).filter { out[$0] == -.infinity }.map(Int32.init)
                XCTAssertEqual(ours, banned, "n = \(n)")
                XCTAssertFalse(banned.isEmpty, "n = \(n): the fixture should ban something")
            }

            // min-p alone (temperature 1, top-p 1): the tokens transformers keeps.
            var m = Sampler(SamplingParameters(topP: 1, minP: p.min_p))
            let kept = m.candidateLogits(buf, history: TokenHistory()).map { $0.id }
            XCTAssertEqual(kept, p.min_p_kept_ids)
            XCTAssertGreaterThan(kept.count, 1)
        }
    }

    /// Every control at once, sampling: at each step of transformers' sampled continuation (fed
    /// back token by token), the candidates and warped logits equal transformers' processed scores,
    /// which come out of its own processor order.
    func testSamplingChainMatchesTransformersOrder() throws {
        let s = Self.reference.generated.sampled
        let q = s.parameters
        let params = SamplingParameters(temperature: q.temperature, topP: q.top_p, topK: q.top_k, minP: q.min_p,
                                        repetitionPenalty: q.repetition_penalty, noRepeatNgramSize: q.no_repeat_ngram_size, seed: 1)
        let model = Self.generatedModel
        let session = try model.network.makeSession(contextLength: 256, kvType: .f32)
        var sampler = Sampler(params)
        var history = TokenHistory(s.prompt_ids)
        try session.evaluate(s.prompt_ids)
        for (step, expected) in s.steps.enumerated() {
            let got = sampler.candidateLogits(session.lastLogits, history: history)
            XCTAssertEqual(got.map { $0.id }, expected.ids, "step \(step)")
            for (g, e) in zip(got, expected.values) {
                XCTAssertEqual(g.logit, e, accuracy: 2e-3 * max(1, abs(e)), "step \(step) id \(g.id)")
            }
            let next = s.tokens[step]
            XCTAssertTrue(expected.ids.contains(next))
            history.append(next)
            try session.evaluate([next])
        }
        XCTAssertTrue(s.steps.contains { $0.ids.count > 1 }, "the fixture should leave a choice at some step")
    }
}
