@testable import DollyKit
import Foundation
import XCTest

/// Tool calls: what the grammar lets through, and the reader that splits a generated call into its
/// name and argument text however the text arrives (checked against Foundation's JSON parser).
final class ToolCallGrammarTests: XCTestCase {
    static let tools = [
        ToolDefinition(name: "get_weather", parameters: #"{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}"#),
        ToolDefinition(name: "add", parameters: #"{"properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}"#),
        ToolDefinition(name: "now"),
    ]

    func testGrammar() throws {
        let call = try GrammarParserTests.matcher(ToolCallGrammar.gbnf(tools: Self.tools, orText: false))
        let either = try GrammarParserTests.matcher(ToolCallGrammar.gbnf(tools: Self.tools, orText: true))
        let calls = [#"{"name": "get_weather", "arguments": {"city": "Paris"}}"#, #"{"name":"add","arguments":{"a":1,"b":2.5}}"#,
                     #"{"name": "now", "arguments": {}}"#, #"{"name": "now", "arguments": {"tz": ["x"]}}"#]
        for c in calls {
            XCTAssertTrue(call(c).complete, c)
            XCTAssertTrue(either(c).complete, c)
        }
        for bad in [#"{"name": "get_weather", "arguments": {"town": "Paris"}}"#, #"{"name": "nope", "arguments": {}}"#,
                    #"{"arguments": {}, "name": "now"}"#, #"{"name": "add", "arguments": {"a": 1}}"#, "Sunny."] {
            XCTAssertFalse(call(bad).complete, bad)
        }
        XCTAssertTrue(either("Sunny today.").complete)
        XCTAssertFalse(either(" leading blank").complete)
        XCTAssertFalse(either("{not a call}").complete)
    }

    func testBadTools() {
        XCTAssertThrowsError(try ToolCallGrammar.gbnf(tools: [ToolDefinition(name: "bad name")], orText: false))
        XCTAssertThrowsError(try ToolCallGrammar.gbnf(tools: [ToolDefinition(name: "f", parameters: #"{"type": "string"}"#)], orText: false))
        XCTAssertThrowsError(try ToolCallGrammar.gbnf(tools: [ToolDefinition(name: "f", parameters: "[")], orText: false))
        XCTAssertThrowsError(try ToolCallGrammar.gbnf(tools: [], orText: false))
    }

    func testReaderSplitsAnywhere() throws {
        let text = "{\n\t\"name\" : \"get_weather\", \"arguments\": {\"city\": \"Pa}r\\\"is\", \"x\": [1, {\"y\": \"é\u{301}\"}]}\n}\n"
        let expectedArguments = #"{"city": "Pa}r\"is", "x": [1, {"y": "é"#  + "\u{301}" + #""}]}"#
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<200 {
            var reader = ToolCallReader()
            var name: String?, arguments = ""
            var rest = Substring(text)
            while !rest.isEmpty {
                let n = Int.random(in: 1...6, using: &rng)
                let piece = rest.prefix(n)
                rest = rest.dropFirst(piece.count)
                for event in reader.feed(String(piece)) {
                    switch event {
                    case let .name(n): XCTAssertNil(name); name = n
                    case let .arguments(a): XCTAssertNotNil(name); arguments += a
                    case .text: XCTFail("a call read as text")
                    }
                }
            }
            XCTAssertEqual(name, "get_weather")
            XCTAssertEqual(arguments, expectedArguments)
            XCTAssertTrue(reader.isComplete)
            XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(arguments.utf8)) as? [String: Any])
        }
        var prose = ToolCallReader()
        XCTAssertEqual(prose.feed("  "), [])
        XCTAssertNil(prose.isCall)
        XCTAssertEqual(prose.feed("Sunny"), [.text("Sunny")])
        XCTAssertEqual(prose.feed(" {x}"), [.text(" {x}")])
        XCTAssertEqual(prose.isCall, false)
        var unfinished = ToolCallReader()
        _ = unfinished.feed(#"{"name": "add", "arguments": {"a": 1"#)
        XCTAssertEqual(unfinished.isCall, true)
        XCTAssertFalse(unfinished.isComplete)
    }
}

/// The server's grammar cache: one compile per grammar text, bounded by count and memory.
final class GrammarCacheTests: XCTestCase {
    func testKeepsAndBounds() throws {
        let tokenizer = PromptFidelityTests.demoModel.tokenizer
        let cache = GrammarCache(tokenizer: tokenizer, capacity: 2)
        let a = try cache.constraint(gbnf: #"root ::= "a""#)
        XCTAssertTrue(try cache.constraint(gbnf: #"root ::= "a""#) === a)
        _ = try cache.constraint(gbnf: #"root ::= "b""#)
        _ = try cache.constraint(gbnf: #"root ::= "c""#)
        XCTAssertNil(cache.cached(gbnf: #"root ::= "a""#), "the least recently used went first")
        XCTAssertNotNil(cache.cached(gbnf: #"root ::= "c""#))
        XCTAssertThrowsError(try cache.constraint(gbnf: "root ::= nope"))
        // A memory limit below one grammar's tables keeps only the newest.
        let small = GrammarCache(tokenizer: tokenizer, memoryLimit: 1)
        _ = try small.constraint(gbnf: #"root ::= "x""#)
        _ = try small.constraint(gbnf: #"root ::= "y""#)
        XCTAssertNil(small.cached(gbnf: #"root ::= "x""#))
        XCTAssertNotNil(small.cached(gbnf: #"root ::= "y""#))
    }
}
