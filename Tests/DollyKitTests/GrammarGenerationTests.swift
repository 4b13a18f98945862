import CSIMD
@testable import DollyKit
import Foundation
import XCTest

/// Constrained generation on the demo model: the engine's masks against a brute-force check of every
/// vocabulary id, sampled outputs against their schemas, and how a constrained generation ends.
final class GrammarGenerationTests: XCTestCase {
    static var model: DollyModel { PromptFidelityTests.demoModel }
    static let vocabulary = TokenVocabulary(tokenizer: model.tokenizer)

    static let flatSchema = #"""
        {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10},
         "mood": {"enum": ["happy", "sad", "ok"]}, "score": {"type": "integer"}, "ok": {"type": "boolean"}},
         "required": ["name", "mood", "score", "ok"], "additionalProperties": false}
        """#
    static let nestedSchema = #"""
        {"type": "object", "properties": {"items": {"type": "array", "maxItems": 2, "items": {"type": "object",
         "properties": {"id": {"type": "integer"}, "label": {"type": "string", "maxLength": 6}}, "required": ["id", "label"]}},
         "kind": {"anyOf": [{"type": "null"}, {"const": "list"}]}}, "required": ["items", "kind"]}
        """#

    func constraint(_ gbnf: String) throws -> GrammarConstraint {
        try GrammarConstraint(grammar: CompiledGrammar(gbnf: gbnf), vocabulary: Self.vocabulary)
    }

    func generate(_ c: GrammarConstraint, seed: UInt64, maxTokens: Int = 120, greedy: Bool = false,
                  prompt: String = "Describe a person as JSON.") throws -> (text: String, result: GenerationResult) {
        let m = Self.model
        let session = try m.network.makeSession(contextLength: 256, threads: 1)
        var text = ""
        let request = GenerationRequest(text: prompt, maxNewTokens: maxTokens,
                                        sampling: SamplingParameters(greedy: greedy, seed: seed, constraint: c))
        let result = try m.generate(request, session: session) { text += $0; return true }
        return (text, result)
    }

    // MARK: - Brute force

    /// Re-parses from scratch with the bare stacks (no DFA, no trie, no mask cache) and its own UTF-8
    /// decoding: which ids may follow `prefix`.
    struct Reference {
        var stacks: GrammarStacks
        var memo: [[Int32]: [UInt32: [Int32]]] = [:]

        init(_ grammar: CompiledGrammar) {
            stacks = GrammarStacks(grammar: grammar)
        }

        mutating func accept(_ set: [Int32], _ c: UInt32) -> [Int32] {
            if let hit = memo[set]?[c] { return hit }
            let next = stacks.accept(set, c) ?? []
            memo[set, default: [:]][c] = next
            return next
        }

        /// The stacks after the whole code points of `bytes`, and whether the unfinished tail (if any)
        /// can still become a code point some stack accepts; nil when the bytes leave the grammar.
        mutating func parse(_ start: [Int32], _ bytes: [UInt8]) -> [Int32]? {
            var set = start
            var i = 0
            while i < bytes.count {
                let lead = bytes[i]
                let length = lead < 0x80 ? 1 : lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3 : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0
                guard length > 0 else { return nil }
                let available = min(length, bytes.count - i)
                let piece = Array(bytes[i ..< i + available])
                if available == length {
                    guard let s = String(validating: piece, as: UTF8.self), let c = s.unicodeScalars.first else { return nil }
                    set = accept(set, c.value)
                    if set.isEmpty { return nil }
                } else {
                    // Smallest and largest completion (the second byte's range depends on the lead).
                    let second: (UInt8, UInt8) = lead == 0xE0 ? (0xA0, 0xBF) : lead == 0xED ? (0x80, 0x9F)
                        : lead == 0xF0 ? (0x90, 0xBF) : lead == 0xF4 ? (0x80, 0x8F) : (0x80, 0xBF)
                    func complete(_ low: Bool) -> UInt32? {
                        var b = piece
                        while b.count < length { b.append(b.count == 1 ? (low ? second.0 : second.1) : (low ? 0x80 : 0xBF)) }
                        return String(validating: b, as: UTF8.self)?.unicodeScalars.first?.value
                    }
                    guard let lo = complete(true), let hi = complete(false), stacks.accepts(set, lo, hi) else { return nil }
                }
                i += available
            }
            return set
        }
    }

    /// At every step of the generation (the last one too), the engine's mask equals the ids for which
    /// output-so-far + id still parses from scratch; stop tokens exactly when the grammar is complete.
    func checkEveryStep(_ c: GrammarConstraint, tokens: [Int32], label: String) {
        var reference = Reference(c.grammar)
        let start = reference.stacks.initial()!
        var cursor = c.start()
        var mask = [UInt64](repeating: 0, count: Self.vocabulary.maskWords)
        var output: [UInt8] = []
        for step in 0...tokens.count {
            _ = mask.withUnsafeMutableBufferPointer { cursor.mask(into: $0) }
            // The from-scratch stacks of the output so far, then each id on top of them.
            var prefixSet = start
            var prefixBytes = output
            // Split the output at its last whole code point so each id is parsed with the tail.
            var cut = output.count
            while cut > 0 && output[cut - 1] & 0xC0 == 0x80 { cut -= 1 }
            if cut > 0 && output[cut - 1] >= 0xC0 { cut -= 1 }
            if let s = reference.parse(start, Array(output[..<cut])) {
                prefixSet = s
                prefixBytes = Array(output[cut...])
            } else {
                XCTFail("\(label) step \(step): the output so far does not parse")
                return
            }
            var mismatches: [Int32] = []
            for id in 0..<Self.vocabulary.size {
                let bytes = Self.vocabulary.bytes[id]
                let expected = !bytes.isEmpty && reference.parse(prefixSet, prefixBytes + bytes) != nil
                let actual = mask[id >> 6] >> UInt64(id & 63) & 1 == 1
                if expected != actual { mismatches.append(Int32(id)) }
            }
            XCTAssertEqual(mismatches.prefix(10), [], "\(label) step \(step): mask differs from brute force")
            let completeFromScratch = reference.parse(start, output).map { $0.first == 0 && cut == output.count } ?? false
            XCTAssertEqual(cursor.isComplete, completeFromScratch, "\(label) step \(step): completeness")
            guard step < tokens.count else { break }
            let id = tokens[step]
            XCTAssertEqual(mask[Int(id) >> 6] >> UInt64(id & 63) & 1, 1, "\(label) step \(step): chose a refused id \(id)")
            cursor.advance(token: id)
            output += Self.vocabulary.bytes[Int(id)]
        }
    }

    static let patternSchema = #"""
        {"type": "object", "properties": {"code": {"type": "string", "pattern": "^[A-Z]{2}-\\d{3}(x|\\.[a-z\"]+)?$"},
         "day": {"type": "string", "format": "date"}}, "required": ["code", "day"]}
        """#
    static let tools = [
        ToolDefinition(name: "get_weather", parameters: #"{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}"#),
        ToolDefinition(name: "add", parameters: #"{"properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}"#),
    ]

    /// The generation's logits come from whichever kernel path runs; the masks must not care. Every
    /// path this CPU runs, each grammar, two seeds.
    func testMasksEqualBruteForceAtEveryStep() throws {
        let grammars = [
            ("flat schema", try JSONSchemaGrammar.gbnf(schema: Self.flatSchema)),
            ("json_object", JSONSchemaGrammar.anyObjectGBNF),
            ("unicode gbnf", #"root ::= ([a-z ]+ | [\u00e0-\u00ff\u4e00-\u9fff]+ | "😀") ("." | "!")"#),
            ("pattern and format", try JSONSchemaGrammar.gbnf(schema: Self.patternSchema)),
            ("tool call or text", try ToolCallGrammar.gbnf(tools: Self.tools, orText: true)),
        ]
        let saved = String(cString: csimd_kernel_name())
        defer { _ = csimd_kernel_force(saved) }
        let names: [String] = ["scalar", "avx2", "avx2-vnni", "avx512-vnni", "avx512-vbmi", "neon", "neon-dotprod"]
        let paths = names.filter { csimd_kernel_supported($0) == 1 }
        XCTAssertFalse(paths.isEmpty)
        for path in paths {
            XCTAssertEqual(csimd_kernel_force(path), 0, path)
            // Every grammar and two seeds on the default path; the flat schema and the tool call on the others.
            for (label, gbnf) in grammars where path == saved || label == "flat schema" || label == "tool call or text" {
                for seed: UInt64 in path == saved ? [1, 2] : [1] {
                    let c = try constraint(gbnf)
                    let (_, result) = try generate(c, seed: seed, maxTokens: 10)
                    checkEveryStep(c, tokens: result.tokens, label: "\(path) \(label) seed \(seed)")
                }
            }
        }
    }

    /// A constraint shared by many generations (the server's cache) answers as a fresh one does:
    /// its cached masks and transitions equal what a new walk computes.
    func testASharedConstraintAnswersAsAFreshOne() throws {
        let gbnf = try ToolCallGrammar.gbnf(tools: Self.tools, orText: false)
        let shared = try constraint(gbnf)
        for seed: UInt64 in 1...4 {
            let fresh = try generate(try constraint(gbnf), seed: seed, maxTokens: 60).result.tokens
            let again = try generate(shared, seed: seed, maxTokens: 60).result.tokens
            let third = try generate(shared, seed: seed, maxTokens: 60).result.tokens
            XCTAssertEqual(again, fresh, "seed \(seed)")
            XCTAssertEqual(third, fresh, "seed \(seed)")
        }
    }

    // MARK: - Sampled outputs

    func testSampledOutputsParseAndSatisfyTheSchema() throws {
        let flat = try constraint(JSONSchemaGrammar.gbnf(schema: Self.flatSchema))
        let nested = try constraint(JSONSchemaGrammar.gbnf(schema: Self.nestedSchema))
        let any = try constraint(JSONSchemaGrammar.anyObjectGBNF)
        for seed: UInt64 in 1...4 {
            let (text, result) = try generate(flat, seed: seed, maxTokens: 200)
            XCTAssertEqual(result.stopReason, .stopToken, text)
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
            XCTAssertEqual(Set(object.keys), ["name", "mood", "score", "ok"], text)
            XCTAssertLessThanOrEqual((object["name"] as? String)?.count ?? 99, 10, text)
            XCTAssertTrue(["happy", "sad", "ok"].contains(object["mood"] as? String ?? ""), text)
            XCTAssertNotNil(object["score"] as? Int, text)
            XCTAssertNotNil(object["ok"] as? Bool, text)

            let (text2, result2) = try generate(nested, seed: seed, maxTokens: 200)
            XCTAssertEqual(result2.stopReason, .stopToken, text2)
            let o2 = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text2.utf8)) as? [String: Any], text2)
            let items = try XCTUnwrap(o2["items"] as? [[String: Any]], text2)
            XCTAssertLessThanOrEqual(items.count, 2)
            for item in items {
                XCTAssertEqual(Set(item.keys), ["id", "label"], text2)
                XCTAssertNotNil(item["id"] as? Int, text2)
            }
            XCTAssertTrue(o2["kind"] is NSNull || o2["kind"] as? String == "list", text2)

            // Free JSON has no length bound, but near the end of the budget only tokens that leave room
            // to close it are allowed: whatever the budget, the answer parses.
            for budget in [12, 40] {
                let (text3, result3) = try generate(any, seed: seed, maxTokens: budget)
                XCTAssertTrue([.stopToken, .maxTokens].contains(result3.stopReason), "\(result3.stopReason)")
                XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(text3.utf8)) as? [String: Any], "\(budget): \(text3)")
            }
        }
    }

    /// The shortest completion of a state, against counting it out: from each prefix of an answer,
    /// the distance equals the length of the shortest string that completes it (found by trying the
    /// byte-level completions breadth first).
    func testDistanceIsTheShortestCompletion() throws {
        let gbnf = #"root ::= "{" ( "\"k\":" ("[" [0-9]* "]" | "true") )? "}" | "x" "yz"{2}"#
        let bytes = (0..<128).map { [UInt8($0)] }
        let c = try GrammarConstraint(grammar: CompiledGrammar(gbnf: gbnf), vocabulary: TokenVocabulary(tokenBytes: bytes))
        for prefix in ["", "{", "{\"k\":", "{\"k\":[", "{\"k\":[12", "{\"k\":t", "x", "xy", "xyzy"] {
            var cursor = c.start()
            cursor.advance(bytes: Array(prefix.utf8))
            XCTAssertFalse(cursor.isDead, prefix)
            // Breadth first over printable ASCII continuations.
            var frontier = [cursor], depth = 0
            search: while true {
                for f in frontier where f.isComplete { break search }
                depth += 1
                frontier = frontier.flatMap { f in (32..<127).compactMap { b -> GrammarCursor? in
                    var n = f
                    n.advance(bytes: [UInt8(b)])
                    return n.isDead ? nil : n
                } }
            }
            c.lock.lock()
            let d = c.distance(cursor.state)
            c.lock.unlock()
            XCTAssertEqual(Int(d), depth, "after \(prefix)")
        }
    }

    // MARK: - How it ends

    func testAGrammarLongerThanTheBudgetEndsWithMaxTokens() throws {
        let (text, result) = try generate(constraint(#"root ::= "a"{200}"#), seed: 1, maxTokens: 5)
        XCTAssertEqual(result.stopReason, .maxTokens)
        XCTAssertEqual(result.tokens.count, 5)
        XCTAssertTrue(text.allSatisfy { $0 == "a" } && !text.isEmpty, text)
    }

    func testGreedyIsTheArgmaxOverAllowedIds() throws {
        let c = try constraint(#"root ::= "yes" | "no" | "maybe""#)
        let (text, result) = try generate(c, seed: 1, greedy: true)
        XCTAssertTrue(["yes", "no", "maybe"].contains(text), text)
        XCTAssertEqual(result.stopReason, .stopToken)
        // The first step is masked too, and greedy picks the best allowed logit.
        let n = Self.vocabulary.size
        var logits = [Float](repeating: 0, count: n)
        logits[0] = 100  // <|endoftext|>: refused before the grammar is complete
        let yes = Self.model.tokenizer.encode("yes")[0], no = Self.model.tokenizer.encode("no")[0]
        logits[Int(yes)] = 1
        logits[Int(no)] = 2
        var state = GenerationState(prompt: [5], maxNewTokens: 8, sampling: SamplingParameters(greedy: true, constraint: c),
                                    stopTokens: [0, 50277], vocabularySize: n)
        XCTAssertEqual(logits.withUnsafeBufferPointer { state.next($0) }, no)
        // Complete now: only a stop token is allowed, the best one of them.
        XCTAssertNil(logits.withUnsafeBufferPointer { state.next($0) })
        XCTAssertEqual(state.stopReason, .stopToken)
        XCTAssertEqual(state.stopToken, 0)
    }

    func testNothingAllowedEndsTheGenerationInsteadOfToken0() throws {
        // A vocabulary that cannot spell "b": the row is all masked from the first step.
        let vocabulary = TokenVocabulary(tokenBytes: [[], Array("a".utf8), Array("c".utf8)])
        let c = try GrammarConstraint(grammar: CompiledGrammar(gbnf: #"root ::= "b""#), vocabulary: vocabulary)
        var state = GenerationState(prompt: [1], maxNewTokens: 4, sampling: SamplingParameters(constraint: c),
                                    stopTokens: [0], vocabularySize: 3)
        let logits: [Float] = [5, 1, 1]
        XCTAssertNil(logits.withUnsafeBufferPointer { state.next($0) })
        XCTAssertEqual(state.stopReason, .noAllowedToken)
        // Complete with no stop token to emit: the grammar itself ends the output.
        let done = try GrammarConstraint(grammar: CompiledGrammar(gbnf: #"root ::= "a""#), vocabulary: vocabulary)
        var s2 = GenerationState(prompt: [1], maxNewTokens: 4, sampling: SamplingParameters(greedy: true, constraint: done),
                                 stopTokens: [], vocabularySize: 3)
        XCTAssertEqual(logits.withUnsafeBufferPointer { s2.next($0) }, 1)
        XCTAssertNil(logits.withUnsafeBufferPointer { s2.next($0) })
        XCTAssertEqual(s2.stopReason, .stopToken)
        XCTAssertNil(s2.stopToken)
    }

    func testTheSpecialTokensAreNeverAllowed() throws {
        XCTAssertTrue(Self.vocabulary.bytes[50278].isEmpty)
        XCTAssertTrue(Self.vocabulary.bytes[50279].isEmpty)
        XCTAssertTrue(Self.vocabulary.bytes[50277].isEmpty)
        XCTAssertTrue(Self.vocabulary.bytes[0].isEmpty)
        // Even a grammar that spells their text.
        let c = try constraint("root ::= \"### Response:\" | \"### End\"")
        var mask = [UInt64](repeating: 0, count: Self.vocabulary.maskWords)
        _ = mask.withUnsafeMutableBufferPointer { c.start().mask(into: $0) }
        for id in [0, 50277, 50278, 50279] { XCTAssertEqual(mask[id >> 6] >> UInt64(id & 63) & 1, 0) }
    }
}
