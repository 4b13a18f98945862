import DollyKit
import DollyServer
import Foundation
import XCTest

/// Structured output through the HTTP API: `response_format`, llama-server's `grammar` and
/// `json_schema`, `tools` answered as `tool_calls` (streamed and not), and a 400 for every field the
/// server does not implement.
final class StructuredOutputServerTests: XCTestCase {
    nonisolated(unsafe) static let schema: [String: Any] = [
        "type": "object", "additionalProperties": false, "required": ["city", "country", "rank"],
        "properties": ["city": ["type": "string", "maxLength": 12], "country": ["enum": ["France", "Japan", "Peru"]],
                       "rank": ["type": "integer"]],
    ]
    nonisolated(unsafe) static let weather: [String: Any] = ["type": "function", "function": [
        "name": "get_weather", "description": "The weather in a city now",
        "parameters": ["type": "object", "properties": ["city": ["type": "string", "maxLength": 10]], "required": ["city"]]]]
    nonisolated(unsafe) static let add: [String: Any] = ["type": "function", "function": [
        "name": "add", "parameters": ["type": "object", "properties": ["a": ["type": "integer"], "b": ["type": "integer"]],
                                      "required": ["a", "b"]]]]

    func chat(_ extra: [String: Any], text: String = "Name a city.") -> [String: Any] {
        ["messages": [["role": "user", "content": text]], "max_tokens": 120].merging(extra) { $1 }
    }

    func choice(_ r: ServerHarness.Reply) -> [String: Any] { (r.json["choices"] as? [[String: Any]])?.first ?? [:] }
    func message(_ r: ServerHarness.Reply) -> [String: Any] { choice(r)["message"] as? [String: Any] ?? [:] }

    func testResponseFormatsAndGrammarFields() async throws {
        let s = try await ServerHarness()
        for seed in 1...2 {
            let r = try await s.post("/v1/chat/completions", chat(["seed": seed, "response_format": [
                "type": "json_schema", "json_schema": ["name": "city", "strict": true, "schema": Self.schema]]]))
            XCTAssertEqual(r.status, 200, r.text)
            let content = try XCTUnwrap(message(r)["content"] as? String, r.text)
            XCTAssertFalse(content.contains("\"name\"") || r.text.contains("\"city\",\"strict\""), "the schema's name is echoed")
            XCTAssertEqual(choice(r)["finish_reason"] as? String, "stop", r.text)
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(content.utf8)) as? [String: Any], content)
            XCTAssertEqual(Set(object.keys), ["city", "country", "rank"], content)
            XCTAssertTrue(["France", "Japan", "Peru"].contains(object["country"] as? String ?? ""), content)
            XCTAssertLessThanOrEqual((object["city"] as? String)?.count ?? 99, 12, content)

            // The same through llama-server's json_schema field, on the raw endpoint too.
            let c = try await s.post("/v1/completions", ["prompt": "A city:", "json_schema": Self.schema, "seed": seed, "max_tokens": 120])
            XCTAssertEqual(c.status, 200, c.text)
            let text = try XCTUnwrap(choice(c)["text"] as? String)
            XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
        }
        let object = try await s.post("/v1/chat/completions", chat(["seed": 3, "max_tokens": 200, "response_format": ["type": "json_object"]]))
        XCTAssertEqual(object.status, 200, object.text)
        let content = message(object)["content"] as? String ?? ""
        if choice(object)["finish_reason"] as? String == "stop" {
            XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(content.utf8)) as? [String: Any], content)
        } else {
            XCTAssertTrue(content.hasPrefix("{"), content)
        }
        let yesNo = try await s.post("/v1/completions", ["prompt": "Is water wet?", "grammar": #"root ::= "yes" | "no""#, "seed": 1])
        XCTAssertTrue(["yes", "no"].contains(choice(yesNo)["text"] as? String ?? ""), yesNo.text)
        XCTAssertEqual(choice(yesNo)["finish_reason"] as? String, "stop")
        // Only satisfiable past max_tokens: "length".
        let long = try await s.post("/v1/completions", ["prompt": "x", "grammar": #"root ::= "a"{30}"#, "max_tokens": 3])
        XCTAssertEqual(choice(long)["finish_reason"] as? String, "length", long.text)
        try await s.stop()
    }

    func testToolCallsStreamedAndNot() async throws {
        let s = try await ServerHarness()
        let tools = [Self.weather, Self.add]
        for (choiceField, expected) in [("required", nil), ("named", "add")] as [(String, String?)] {
            let toolChoice: Any = expected.map { ["type": "function", "function": ["name": $0]] } ?? choiceField
            for seed in 1...3 {
                // The tools paragraph takes 139 of the demo's 256 tokens of context.
                let body = chat(["seed": seed, "tools": tools, "tool_choice": toolChoice, "max_tokens": 100],
                                text: "What is the weather in Paris?")
                let r = try await s.post("/v1/chat/completions", body)
                XCTAssertEqual(r.status, 200, r.text)
                XCTAssertEqual(choice(r)["finish_reason"] as? String, "tool_calls", r.text)
                XCTAssertTrue(message(r)["content"] is NSNull, r.text)
                let call = try XCTUnwrap((message(r)["tool_calls"] as? [[String: Any]])?.first, r.text)
                XCTAssertEqual(call["type"] as? String, "function")
                XCTAssertTrue((call["id"] as? String ?? "").hasPrefix("call_"))
                let function = try XCTUnwrap(call["function"] as? [String: Any])
                let name = try XCTUnwrap(function["name"] as? String)
                if let expected { XCTAssertEqual(name, expected) } else { XCTAssertTrue(["get_weather", "add"].contains(name)) }
                let argumentsText = try XCTUnwrap(function["arguments"] as? String)
                let arguments = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(argumentsText.utf8)) as? [String: Any], argumentsText)
                XCTAssertEqual(Set(arguments.keys), name == "add" ? ["a", "b"] : ["city"], argumentsText)

                // Streamed: the first tool_calls delta names the function; the fragments join to the same arguments.
                let streamed = try await s.post("/v1/chat/completions", body.merging(["stream": true]) { $1 })
                var streamedName: String?, fragments = "", finish: String?
                for event in streamed.events where event != "[DONE]" {
                    let chunk = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any], event)
                    guard let c = (chunk["choices"] as? [[String: Any]])?.first else { continue }
                    if let f = c["finish_reason"] as? String { finish = f }
                    for delta in (c["delta"] as? [String: Any])?["tool_calls"] as? [[String: Any]] ?? [] {
                        XCTAssertEqual(delta["index"] as? Int, 0)
                        let f = delta["function"] as? [String: Any] ?? [:]
                        if let n = f["name"] as? String { XCTAssertNil(streamedName); streamedName = n; XCTAssertNotNil(delta["id"]) }
                        fragments += f["arguments"] as? String ?? ""
                    }
                }
                XCTAssertEqual(streamedName, name)
                XCTAssertEqual(fragments, argumentsText)
                XCTAssertEqual(finish, "tool_calls")
            }
        }
        // auto: a call or words, and finish_reason says which.
        for seed in 1...3 {
            let r = try await s.post("/v1/chat/completions", chat(["seed": seed, "tools": tools, "max_tokens": 100]))
            XCTAssertEqual(r.status, 200, r.text)
            if message(r)["tool_calls"] != nil {
                XCTAssertEqual(choice(r)["finish_reason"] as? String, "tool_calls", r.text)
            } else {
                XCTAssertFalse((message(r)["content"] as? String ?? "{").hasPrefix("{"), r.text)
            }
        }
        // A conversation that went through a call: the result is context, the answer words.
        let history: [[String: Any]] = [
            ["role": "user", "content": "What is the weather in Paris?"],
            ["role": "assistant", "content": NSNull(), "tool_calls": [["id": "call_1", "type": "function",
                                                                       "function": ["name": "get_weather", "arguments": #"{"city":"Paris"}"#]]]],
            ["role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 C"],
        ]
        let after = try await s.post("/v1/chat/completions", ["messages": history, "tools": tools, "tool_choice": "none",
                                                              "temperature": 0, "max_tokens": 20])
        XCTAssertEqual(after.status, 200, after.text)
        XCTAssertNotNil(message(after)["content"] as? String, after.text)
        XCTAssertNil(message(after)["tool_calls"])
        try await s.stop()
    }

    /// OpenAI's logit_bias: +100 makes an id the greedy choice, -100 removes the greedy one.
    func testLogitBias() async throws {
        let s = try await ServerHarness()
        let zebraReply = try await s.post("/tokenize", ["content": " zebra"])
        let ids = try XCTUnwrap(zebraReply.json["tokens"] as? [Int])
        let zebra = try XCTUnwrap(ids.first)
        func first(_ bias: [String: Int]) async throws -> String {
            let r = try await s.post("/v1/completions", ["prompt": "The history of the city", "temperature": 0, "max_tokens": 1,
                                                         "logit_bias": bias])
            XCTAssertEqual(r.status, 200, r.text)
            return choice(r)["text"] as? String ?? ""
        }
        let plain = try await first([:])
        let forced = try await first(["\(zebra)": 100])
        XCTAssertTrue(" zebra".hasPrefix(forced) && !forced.isEmpty, forced)
        let plainReply = try await s.post("/tokenize", ["content": plain])
        let plainIds = try XCTUnwrap(plainReply.json["tokens"] as? [Int])
        let banned = try await first(["\(plainIds[0])": -100])
        XCTAssertNotEqual(banned, plain)
        try await s.stop()
    }

    func testUnsupportedFieldsAndBadGrammarsAre400s() async throws {
        let s = try await ServerHarness()
        let cases: [(String, [String: Any], String)] = [
            ("prediction", chat(["prediction": ["type": "content", "content": "x"]]), "prediction"),
            ("logit_bias id", chat(["logit_bias": ["999999": 1]]), "logit_bias"),
            ("logit_bias value", chat(["logit_bias": ["50": 101]]), "logit_bias"),
            ("functions", chat(["functions": [["name": "f"]]]), "functions"),
            ("audio", chat(["audio": ["voice": "x"]]), "audio"),
            ("modalities", chat(["modalities": ["text"]]), "modalities"),
            ("unknown message field", ["messages": [["role": "user", "content": "hi", "refusal": "x"]]], "messages"),
            ("response_format type", chat(["response_format": ["type": "xml"]]), "response_format"),
            ("response_format extra", chat(["response_format": ["type": "json_object", "schema": [:]]]), "response_format"),
            ("json_schema without schema", chat(["response_format": ["type": "json_schema", "json_schema": ["name": "x"]]]), "response_format"),
            ("unsupported keyword", chat(["response_format": ["type": "json_schema", "json_schema": ["name": "x", "schema": [
                "type": "object", "properties": ["n": ["type": "integer", "minimum": 3]]]]]]), "response_format"),
            ("schema false", chat(["json_schema": false]), "json_schema"),
            ("bad grammar", chat(["grammar": "root ::= (\"a\""]), "grammar"),
            ("unknown rule", chat(["grammar": "root ::= b"]), "grammar"),
            ("left recursion", chat(["grammar": "root ::= root \"a\" | \"b\""]), "grammar"),
            ("grammar and json_schema", chat(["grammar": "root ::= \"a\"", "json_schema": ["type": "string"]]), "json_schema"),
            ("tools and response_format", chat(["tools": [Self.weather], "response_format": ["type": "json_object"]]), "tools"),
            ("tool type", chat(["tools": [["type": "retrieval"]]]), "tools"),
            ("tool name", chat(["tools": [["type": "function", "function": ["name": "no spaces"]]]]), "tools"),
            ("tool parameters not an object", chat(["tools": [["type": "function", "function": ["name": "f", "parameters": ["type": "string"]]]]]), "tools"),
            ("tool_choice unknown tool", chat(["tools": [Self.weather], "tool_choice": ["type": "function", "function": ["name": "nope"]]]), "tool_choice"),
            ("tool_choice without tools", chat(["tool_choice": "required"]), "tool_choice"),
            ("tool_choice word", chat(["tools": [Self.weather], "tool_choice": "always"]), "tool_choice"),
            ("store", chat(["store": true]), "store"),
        ]
        for (name, body, param) in cases {
            let r = try await s.post("/v1/chat/completions", body)
            XCTAssertEqual(r.status, 400, "\(name): \(r.text)")
            let error = r.json["error"] as? [String: Any] ?? [:]
            XCTAssertEqual(error["param"] as? String, param, "\(name): \(r.text)")
            XCTAssertFalse((error["message"] as? String ?? "").isEmpty, name)
        }
        for (body, param) in [(["prompt": "x", "suffix": "y"], "suffix"), (["prompt": "x", "best_of": 2], "best_of"),
                              (["prompt": "x", "tools": [Self.weather]], "tools"), (["prompt": "x", "grammar": "nope"], "grammar")]
            as [([String: Any], String)] {
            let r = try await s.post("/v1/completions", body)
            XCTAssertEqual(r.status, 400, "\(body): \(r.text)")
            XCTAssertEqual((r.json["error"] as? [String: Any])?["param"] as? String, param, r.text)
        }
        let tokenize = try await s.post("/tokenize", ["content": "hi", "with_pieces": true])
        XCTAssertEqual(tokenize.status, 400, tokenize.text)
        // Accepted as harmless: user, parallel_tool_calls, store false.
        let ok = try await s.post("/v1/chat/completions", chat(["user": "u1", "store": false, "parallel_tool_calls": false,
                                                                "tools": [Self.weather], "tool_choice": "none", "max_tokens": 4]))
        XCTAssertEqual(ok.status, 200, ok.text)
        try await s.stop()
    }
}
