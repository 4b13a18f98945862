import XCTest
import CSIMD
@testable import DollyKit

/// The batching engine against the one-sequence path: a greedy answer is the same tokens whether it
/// runs alone in a session, beside seven others in a batch, with any prefill chunk size, or after a
/// slot's cached prefix. (The arithmetic of each row does not depend on the others: the C self-test's
/// batch-independence check.)
final class BatchEngineTests: XCTestCase {
    static var model: DollyModel { PromptFidelityTests.demoModel }

    static let instructions = [
        "Why is the sky blue?", "Name three colors.", "Write a haiku about rain.", "What is a prime number?",
        "Give me a word that rhymes with cat.", "Explain gravity to a child.", "List the planets.", "Say hello.",
    ]

    /// Greedy tokens through `DollyModel.generate` on one session, one request at a time.
    static let sequential: [[Int32]] = {
        let session = try! model.network.makeSession(contextLength: 256, kvType: .f16)
        return instructions.map { text in
            try! model.generate(GenerationRequest(text: text, maxNewTokens: 40, sampling: .greedyDecoding),
                                session: session) { _ in true }.tokens
        }
    }()

    func run(_ engine: BatchEngine, _ texts: [String], maxNewTokens: Int = 40) async throws -> [([Int32], BatchSummary)] {
        let streams = try texts.map { text in
            try engine.submit(BatchRequest(prompt: try Self.model.promptTokens(for: GenerationRequest(text: text)),
                                           maxNewTokens: maxNewTokens, sampling: .greedyDecoding, strip: true))
        }
        var results: [([Int32], BatchSummary)] = []
        for stream in streams {
            var tokens: [Int32] = []
            var summary: BatchSummary?
            for await event in stream {
                switch event {
                case let .text(_, ids, _): tokens += ids
                case let .finished(s): summary = s
                }
            }
            results.append((tokens, try XCTUnwrap(summary)))
        }
        return results
    }

    func testConcurrentGreedyEqualsSequential() async throws {
        for stepRows in [64, 5] {
            let engine = try BatchEngine(model: Self.model, options: .init(parallel: 4, context: 256, stepRows: stepRows))
            defer { engine.shutdown(grace: 0) }
            let results = try await run(engine, Self.instructions)
            for (i, r) in results.enumerated() {
                XCTAssertEqual(r.0, Self.sequential[i], "request \(i), \(stepRows) rows per step")
                XCTAssertEqual(r.1.completionTokens, Self.sequential[i].count)
            }
        }
    }

    func testCachedPrefixGivesTheSameAnswer() async throws {
        let engine = try BatchEngine(model: Self.model, options: .init(parallel: 1, context: 256))
        defer { engine.shutdown(grace: 0) }
        let first = try await run(engine, [Self.instructions[0]])[0]
        XCTAssertEqual(first.1.cachedPromptTokens, 0)
        // Same template: the intro blurb and the instruction key are cached from the first request.
        let second = try await run(engine, [Self.instructions[1]])[0]
        XCTAssertGreaterThan(second.1.cachedPromptTokens, 20)
        XCTAssertEqual(second.0, Self.sequential[1])
        // The very same prompt again: all but its last token come from the cache.
        let again = try await run(engine, [Self.instructions[1]])[0]
        XCTAssertEqual(again.1.cachedPromptTokens, again.1.promptTokens - 1)
        XCTAssertEqual(again.0, Self.sequential[1])
    }

    func testQueueLimitAndBadRequests() async throws {
        let engine = try BatchEngine(model: Self.model, options: .init(parallel: 1, context: 64, maxQueue: 1))
        defer { engine.shutdown(grace: 0) }
        let prompt = try Self.model.promptTokens(for: GenerationRequest(text: "Say hello."))
        XCTAssertThrowsError(try engine.submit(BatchRequest(prompt: prompt, maxNewTokens: 64))) {
            XCTAssertEqual($0 as? BatchError, .contextExceeded(promptTokens: prompt.count, maxNewTokens: 64, context: 64))
        }
        XCTAssertThrowsError(try engine.submit(BatchRequest(prompt: [], maxNewTokens: 1)))
        XCTAssertThrowsError(try engine.submit(BatchRequest(prompt: [60000], maxNewTokens: 1)))
        // One running, one waiting, the third refused.
        let a = try engine.submit(BatchRequest(prompt: prompt, maxNewTokens: 20, sampling: .greedyDecoding))
        let b = try engine.submit(BatchRequest(prompt: prompt, maxNewTokens: 20, sampling: .greedyDecoding))
        var refused = false
        do { _ = try engine.submit(BatchRequest(prompt: prompt, maxNewTokens: 20)) } catch BatchError.queueFull { refused = true }
        XCTAssertTrue(refused, "one slot and a queue of one hold two requests")
        for await _ in a {}
        for await _ in b {}
    }

    func testCancelledStreamFreesItsSlot() async throws {
        let engine = try BatchEngine(model: Self.model, options: .init(parallel: 1, context: 256))
        defer { engine.shutdown(grace: 0) }
        let prompt = try Self.model.promptTokens(for: GenerationRequest(text: "Write a long story.", raw: false))
        do {
            let stream = try engine.submit(BatchRequest(prompt: prompt, maxNewTokens: 200))
            for await event in stream { if case .text = event { break } }  // leaves after one event
        }
        let next = try await run(engine, [Self.instructions[2]])[0]
        XCTAssertEqual(next.0, Self.sequential[2])
    }

    func testPromptLogprobsMatchTheSession() async throws {
        let prompt = try Self.model.promptTokens(for: GenerationRequest(text: "Say hello."))
        let engine = try BatchEngine(model: Self.model, options: .init(parallel: 2, context: 256, stepRows: 7))
        defer { engine.shutdown(grace: 0) }
        var summary: BatchSummary?
        for await event in try engine.submit(BatchRequest(prompt: prompt, maxNewTokens: 0, logprobs: 2, promptLogprobs: true)) {
            if case let .finished(s) = event { summary = s }
        }
        let got = try XCTUnwrap(summary).promptLogprobs
        XCTAssertEqual(got.count, prompt.count - 1)
        // The same log-probabilities from one session's all-logits pass.
        let session = try Self.model.network.makeSession(contextLength: 256, kvType: .f16)
        var expected: [Double] = []
        try session.evaluate(prompt, logits: .all { first, rows in
            let vocab = Self.model.config.vocabSize
            for r in 0..<rows.count / vocab where first + r + 1 < prompt.count {
                let row = UnsafeBufferPointer(rebasing: rows[r * vocab..<(r + 1) * vocab])
                expected.append(LogProb.of(Int(prompt[first + r + 1]), in: row))
            }
        })
        XCTAssertEqual(got.map(\.logprob), expected)
        XCTAssertTrue(got.allSatisfy { $0.top.count == 2 && $0.top[0].logprob >= $0.top[1].logprob })
    }
}

/// `serve --lookup`: slots guess tokens by prompt lookup and check them in the same pass (several rows
/// per slot); every answer is the same token for token as without, greedy or sampled, concurrent,
/// with small steps, and some guesses are confirmed.
final class BatchLookupTests: XCTestCase {
    static let prompts: [(String, Bool)] = [
        ("one two three one two three one two three one two", true),
        ("Repeat the text exactly.", false), ("Who is quoted in this text?", false), ("The history of the city", true),
        ("a b c d a b c d a b c d a b", true), ("Name three colors.", false),
    ]

    static func requests(_ sampling: [SamplingParameters]) throws -> [BatchRequest] {
        let model = BatchEngineTests.model
        return try Self.prompts.enumerated().map { i, p in
            let r = GenerationRequest(text: p.0, context: p.1 ? nil : PromptLookupTests.passage, raw: p.1)
            return BatchRequest(prompt: try model.promptTokens(for: r), maxNewTokens: 32,
                                sampling: sampling[i % sampling.count], strip: !p.1)
        }
    }

    static func answers(_ engine: BatchEngine, _ requests: [BatchRequest]) async throws -> [([Int32], String, StopReason)] {
        let streams = try requests.map { try engine.submit($0) }
        var out: [([Int32], String, StopReason)] = []
        for stream in streams {
            var tokens: [Int32] = [], text = "", reason = StopReason.cancelled
            for await event in stream {
                switch event {
                case let .text(t, ids, _): tokens += ids; text += t
                case let .finished(s): reason = s.stopReason
                }
            }
            out.append((tokens, text, reason))
        }
        return out
    }

    func testAnswersAreTheSameWithLookupOnEveryKernelPath() async throws {
        let model = BatchEngineTests.model
        let samplings = [SamplingParameters.greedyDecoding, SamplingParameters(temperature: 0.9, seed: 7),
                         SamplingParameters(temperature: 1, topP: 0.9, seed: 8)]
        let requests = try Self.requests(samplings)
        var accepted = 0, drafted = 0
        for path in allKernelPaths where csimd_kernel_supported(path) == 1 {
            let saved = String(cString: csimd_kernel_name())
            _ = csimd_kernel_force(path)
            defer { _ = csimd_kernel_force(saved) }
            let plainEngine = try BatchEngine(model: model, options: .init(parallel: 3, context: 256))
            let plain = try await Self.answers(plainEngine, requests)
            plainEngine.shutdown(grace: 0)
            // Three slots for six requests (queued ones reuse slots), and two slots in steps of 6 rows
            // (guesses compete with prompt chunks for rows).
            for (parallel, stepRows, n) in [(3, 64, 4), (2, 6, 8)] {
                let engine = try BatchEngine(model: model, options: .init(parallel: parallel, context: 256, stepRows: stepRows,
                                                                          lookup: PromptLookup(maxDraft: n)))
                let fast = try await Self.answers(engine, requests)
                let stats = engine.statistics
                engine.shutdown(grace: 0)
                for (i, (a, b)) in zip(fast, plain).enumerated() {
                    XCTAssertEqual(a.0, b.0, "\(path) parallel \(parallel) rows \(stepRows) lookup \(n): request \(i)")
                    XCTAssertEqual(a.1, b.1)
                    XCTAssertEqual(a.2, b.2)
                }
                accepted += stats.acceptedTokens
                drafted += stats.draftedTokens
            }
        }
        XCTAssertGreaterThan(accepted, 0, "\(accepted) of \(drafted)")
        XCTAssertLessThan(accepted, drafted)
    }
}
