import DollyKit
import Foundation
import XCTest

/// Prompt lookup (speculative decoding from the text itself): the guesses, and the output, which must be
/// the same token for token as plain decoding, greedy or sampled, with processors and a grammar, on every
/// kernel path (the kernels give a token's row the same values whatever the batch).
final class PromptLookupTests: XCTestCase {
    static let model = try! DollyModel.load(path: ConversationTests.demo)

    func testDraftIsWhatFollowedTheLatestLongestMatch() {
        let lookup = PromptLookup(maxDraft: 3, ngramMin: 1, ngramMax: 3)
        var draft: [Int32] = []
        lookup.draft(after: [1, 2, 3, 9, 1, 2, 3, 7, 8, 1, 2, 3], limit: 3, into: &draft)
        XCTAssertEqual(draft, [7, 8, 1], "the latest occurrence of the 3-gram [1, 2, 3]")
        lookup.draft(after: [5, 6, 7, 6], limit: 3, into: &draft)
        XCTAssertEqual(draft, [7, 6], "no 2- or 3-gram repeats: the 1-gram 6, to the end")
        lookup.draft(after: [1, 2, 3, 4], limit: 3, into: &draft)
        XCTAssertEqual(draft, [], "nothing repeats")
        PromptLookup(maxDraft: 4, ngramMin: 2, ngramMax: 2).draft(after: [4, 5, 4, 5], limit: 4, into: &draft)
        XCTAssertEqual(draft, [4, 5])
        lookup.draft(after: [1, 2, 1, 2], limit: 0, into: &draft)
        XCTAssertEqual(draft, [])
    }

    struct Case {
        let text: String
        var context: String? = nil
        var raw = false
        var sampling = SamplingParameters.greedyDecoding
    }

    static let passage = "Three hours a day will produce as much as a man ought to write.\n\t\t-- Trollope"

    static var cases: [Case] {
        var sampled = SamplingParameters(temperature: 0.8, topP: 0.95, seed: 11)
        sampled.repetitionPenalty = 1.1
        return [
            Case(text: "Who is quoted in this text?", context: passage),
            Case(text: "Repeat the text exactly.", context: passage),
            Case(text: "one two three one two three one two three one two", raw: true),
            Case(text: "The history of the city", raw: true),
            Case(text: "Repeat the text exactly.", context: passage, sampling: sampled),
            Case(text: "one two three one two three one two three one two", raw: true,
                 sampling: SamplingParameters(temperature: 1, seed: 5)),
        ]
    }

    func generate(_ c: Case, lookup: PromptLookup?, maxTokens: Int = 40) throws -> GenerationResult {
        var request = GenerationRequest(text: c.text, context: c.context, raw: c.raw, maxNewTokens: maxTokens, sampling: c.sampling)
        request.lookup = lookup
        return try Self.model.generate(request, session: try Self.model.network.makeSession(contextLength: 256)) { _ in true }
    }

    func testOutputIsPlainDecodingsOnEveryKernelPath() throws {
        var drafted = 0, accepted = 0
        try forEachKernelPath { path in
            for c in Self.cases {
                let plain = try generate(c, lookup: nil)
                for lookup in [PromptLookup(maxDraft: 8), PromptLookup(maxDraft: 3, ngramMin: 1, ngramMax: 2)] {
                    let fast = try generate(c, lookup: lookup)
                    XCTAssertEqual(fast.tokens, plain.tokens, "\(path): \(c.text) \(lookup)")
                    XCTAssertEqual(fast.stopReason, plain.stopReason, "\(path): \(c.text)")
                    drafted += fast.draftedTokens
                    accepted += fast.acceptedTokens
                }
            }
        }
        XCTAssertGreaterThan(accepted, 0, "some guesses were right (\(accepted) of \(drafted))")
        XCTAssertLessThan(accepted, drafted, "and some wrong, so both branches ran")
    }

    func testWithAGrammarAndStopTextsTheOutputIsUnchanged() throws {
        let grammar = try GrammarCache(tokenizer: Self.model.tokenizer).constraint(gbnf: #"root ::= ("one " | "two " | "three ")+ "end""#)
        var sampling = SamplingParameters(temperature: 1, seed: 3)
        sampling.constraint = grammar
        let c = Case(text: "one two three one two three", raw: true, sampling: sampling)
        XCTAssertEqual(try generate(c, lookup: PromptLookup(maxDraft: 6)).tokens, try generate(c, lookup: nil).tokens)
        var stopped = GenerationRequest(text: "one two three one two three one two", raw: true, maxNewTokens: 40,
                                        sampling: .greedyDecoding, stopTexts: [" three one"])
        let session = try Self.model.network.makeSession(contextLength: 256)
        var plainText = "", fastText = ""
        let plain = try Self.model.generate(stopped, session: session) { plainText += $0; return true }
        stopped.lookup = PromptLookup(maxDraft: 8)
        let fast = try Self.model.generate(stopped, session: session) { fastText += $0; return true }
        XCTAssertEqual(fastText, plainText)
        XCTAssertEqual(fast.stopReason, plain.stopReason)
    }

    func testAConversationWithLookupAnswersAsWithout() throws {
        func converse(_ lookup: PromptLookup?) throws -> [[Int32]] {
            let conversation = Conversation(model: Self.model, session: try Self.model.network.makeSession(contextLength: 256))
            return try ["Who is quoted in this text?", "Repeat the text exactly."].map { q in
                var r = GenerationRequest(text: q, context: Self.passage, maxNewTokens: 24, sampling: .greedyDecoding)
                r.lookup = lookup
                return try conversation.answer(r) { _ in true }.result.tokens
            }
        }
        XCTAssertEqual(try converse(PromptLookup()), try converse(nil))
    }
}

/// A draft model's guesses: the output is still the model's own, token for token, whether the draft
/// guesses well (the demo drafting for itself) or badly (a random-weight model with the same tokenizer);
/// a draft with another tokenizer is refused.
final class DraftModelTests: XCTestCase {
    static let tinyPath = FixturePaths.path("tiny-safetensors")

    func draft(_ path: String, for model: DollyModel, maxDraft: Int = 4) throws -> DraftModel {
        try DraftModel(model: try DollyModel.load(path: path), target: model, contextLength: 256, maxDraft: maxDraft)
    }

    func testOutputIsTheModelsOwnOnEveryKernelPath() throws {
        let model = PromptLookupTests.model
        var accepted: [String: (Int, Int)] = [:]
        try forEachKernelPath { path in
            let drafts = [("demo", try draft(ConversationTests.demo, for: model)), ("random", try draft(Self.tinyPath, for: model, maxDraft: 2))]
            for c in PromptLookupTests.cases.enumerated().filter({ $0.offset % 2 == 0 }).map(\.element) {
                var request = GenerationRequest(text: c.text, context: c.context, raw: c.raw, maxNewTokens: 32, sampling: c.sampling)
                let plain = try model.generate(request, session: try model.network.makeSession(contextLength: 256)) { _ in true }
                request.lookup = nil
                for (name, d) in drafts {
                    let fast = try model.generate(request, session: try model.network.makeSession(contextLength: 256), draft: d) { _ in true }
                    guard c.sampling.isGreedy else {
                        // Sampled: speculative sampling's other draws (same distribution: SpeculativeSamplingTests),
                        // the same ones again for the same seed.
                        let again = try model.generate(request, session: try model.network.makeSession(contextLength: 256), draft: d) { _ in true }
                        XCTAssertEqual(fast.tokens, again.tokens, "\(path): \(name) drafting \(c.text), sampled, twice")
                        continue
                    }
                    XCTAssertEqual(fast.tokens, plain.tokens, "\(path): \(name) drafting \(c.text)")
                    XCTAssertEqual(fast.stopReason, plain.stopReason)
                    let sum = accepted[name] ?? (0, 0)
                    accepted[name] = (sum.0 + fast.acceptedTokens, sum.1 + fast.draftedTokens)
                }
            }
        }
        let demo = accepted["demo"]!, random = accepted["random"]!
        XCTAssertGreaterThan(Double(demo.0), 0.5 * Double(demo.1), "the demo drafting for itself is mostly right: \(demo)")
        XCTAssertLessThan(random.0, random.1, "a random model is mostly wrong: \(random)")
    }

    func testAConversationWithADraftAnswersAsWithout() throws {
        let model = PromptLookupTests.model
        let d = try draft(ConversationTests.demo, for: model)
        func converse(_ draft: DraftModel?) throws -> [[Int32]] {
            let conversation = Conversation(model: model, session: try model.network.makeSession(contextLength: 256))
            return try ["Who is quoted in this text?", "Repeat the text exactly."].map { q in
                let r = GenerationRequest(text: q, context: PromptLookupTests.passage, maxNewTokens: 24,
                                          sampling: SamplingParameters(temperature: 0, seed: 4))
                return try conversation.answer(r, draft: draft) { _ in true }.result.tokens
            }
        }
        XCTAssertEqual(try converse(d), try converse(nil))
    }

    func testADraftWithAnotherTokenizerIsRefused() throws {
        let dir = try scratchDirectory("dolly-draft-tokenizer")
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.tinyPath) {
            try FileManager.default.copyItem(atPath: Self.tinyPath + "/" + name, toPath: dir.appendingPathComponent(name).path)
        }
        // The same vocabulary with two tokens' ids swapped: every text still encodes, to other ids.
        let url = dir.appendingPathComponent("tokenizer.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var model = json["model"] as! [String: Any]
        var vocab = model["vocab"] as! [String: Int]
        (vocab["the"], vocab["and"]) = (vocab["and"]!, vocab["the"]!)
        model["vocab"] = vocab
        json["model"] = model
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        XCTAssertThrowsError(try draft(dir.path, for: PromptLookupTests.model)) { error in
            XCTAssertTrue(error.localizedDescription.contains("is not the model's: a draft must share its tokenizer"), error.localizedDescription)
        }
    }
}

/// Grammar jump-forward: the tokens a grammar forces are guessed and checked in one pass; the output is
/// unchanged (greedy and sampled, every kernel path) and some guesses are right.
final class JumpForwardTests: XCTestCase {
    func testForcedTokensSpellWhatTheGrammarForces() throws {
        let model = PromptLookupTests.model
        let grammar = try GrammarCache(tokenizer: model.tokenizer).constraint(gbnf: #"root ::= "{\"description\": " ("1" | "2") "}""#)
        var cursor = grammar.start()
        var tokens: [Int32] = []
        cursor.forcedTokens(limit: 16, into: &tokens)
        // The tokenizer's spelling of the forced text, less its last token (BPE merges across the edge).
        let forced = #"{"description": "#
        XCTAssertEqual(tokens, Array(model.tokenizer.encode(forced).dropLast()))
        XCTAssertFalse(tokens.isEmpty)
        XCTAssertTrue(forced.hasPrefix(model.tokenizer.decode(tokens)))
        cursor.forcedTokens(limit: 1, into: &tokens)
        XCTAssertEqual(tokens.count, 1, "at most the limit")
        cursor.advance(bytes: Array(forced.utf8))
        cursor.forcedTokens(limit: 16, into: &tokens)
        XCTAssertEqual(tokens, [], "a choice: nothing is forced")
        cursor.advance(bytes: [UInt8(ascii: "2")])
        cursor.forcedTokens(limit: 16, into: &tokens)
        XCTAssertEqual(tokens, [], "\"}\" is forced, one token: left out")
    }

    func testOutputIsUnchangedOnEveryKernelPath() throws {
        let model = PromptLookupTests.model
        let schema = #"{"type": "object", "properties": {"description": {"type": "string", "maxLength": 12}, "count": {"type": "integer"}, "tags": {"type": "array", "items": {"enum": ["alpha", "beta"]}}}, "required": ["description", "count", "tags"]}"#
        let constraint = try GrammarCache(tokenizer: model.tokenizer)
            .constraint(gbnf: try JSONSchemaGrammar.gbnf(schema: schema))
        var drafted = 0, accepted = 0
        try forEachKernelPath { path in
            for sampling in [SamplingParameters.greedyDecoding, SamplingParameters(temperature: 1, seed: 9),
                             SamplingParameters(temperature: 0.7, topP: 0.9, seed: 2)] {
                var p = sampling
                p.constraint = constraint
                var request = GenerationRequest(text: "Describe a thing.", maxNewTokens: 60, sampling: p)
                let plain = try model.generate(request, session: try model.network.makeSession(contextLength: 256)) { _ in true }
                request.jumpForward = true
                let fast = try model.generate(request, session: try model.network.makeSession(contextLength: 256)) { _ in true }
                XCTAssertEqual(fast.tokens, plain.tokens, "\(path) \(sampling)")
                XCTAssertEqual(fast.stopReason, plain.stopReason, path)
                drafted += fast.draftedTokens
                accepted += fast.acceptedTokens
            }
        }
        XCTAssertGreaterThan(accepted, 0, "\(accepted) of \(drafted)")
    }
}
