import DollyKit
@testable import DollyServer
import Foundation
import XCTest

/// Chat histories: how they map to Dolly's prompt (each turn's prompt begins with the previous
/// prompt and answer), and that the slot's cache of them is reused without changing the answer.
final class ConversationServerTests: XCTestCase {
    static let passage = "Dolly was a sheep cloned in 1996 at the Roslin Institute in Scotland. She lived until 2003."

    func turn(_ role: String, _ text: String) -> ChatTurn { ChatTurn(role: role, text: text) }

    func testEachTurnsPromptBeginsWithThePreviousPromptAndAnswer() throws {
        var history = [turn("system", Self.passage), turn("user", "Who was Dolly?")]
        var previous = try ChatPrompt(history).text()
        XCTAssertEqual(previous, DollyPrompt.format(instruction: "Who was Dolly?", context: Self.passage))
        for (answer, next) in [("A sheep.", "Where was she cloned?"), ("In Scotland.", "When did she die?")] {
            history += [turn("assistant", answer), turn("user", next)]
            let prompt = try ChatPrompt(history).text()
            XCTAssertTrue(prompt.hasPrefix(previous + answer + "\n\n### End\n\n"), prompt)
            XCTAssertTrue(prompt.hasSuffix(DollyPrompt.format(instruction: next)), prompt)
            previous = prompt
        }
        // The oldest exchanges go first when the context is short.
        let shorter = try ChatPrompt(history).text(dropping: 1)
        XCTAssertEqual(shorter, DollyPrompt.record(DollyExchange(instruction: "Where was she cloned?", answer: "In Scotland."))
                       + DollyPrompt.format(instruction: "When did she die?"))
    }

    func testToolCallsAndResultsStayInTheirExchange() throws {
        var call = turn("assistant", "")
        call.calls = [(id: "c1", name: "weather", arguments: #"{"city":"Oslo"}"#)]
        var result = turn("tool", "cold")
        result.callID = "c1"
        let first = try ChatPrompt([turn("user", "Weather in Oslo?"), call, result], toolsContext: "TOOLS").text()
        XCTAssertEqual(first, DollyPrompt.format(instruction: "Weather in Oslo?",
                                                 context: "TOOLS\n\nAssistant called weather with {\"city\":\"Oslo\"}\n\nResult of weather: cold"))
        let second = try ChatPrompt([turn("user", "Weather in Oslo?"), call, result, turn("assistant", "It is cold."),
                                     turn("user", "Thanks.")], toolsContext: "TOOLS").text()
        XCTAssertTrue(second.hasPrefix(first + "It is cold."), second)
        XCTAssertThrowsError(try ChatPrompt([turn("user", "Hi"), turn("assistant", "Hello")]))
        XCTAssertThrowsError(try ChatPrompt([turn("system", "only context")]))
    }

    /// Turn 3 of a greedy conversation: with the prefix cache it reuses turn 2's prompt and answer and
    /// still answers exactly as a server that recomputes everything.
    func testCachedTurnsAnswerAsRecomputedOnes() async throws {
        func converse(_ s: ServerHarness) async throws -> (answers: [String], cached: [Int]) {
            var messages: [[String: Any]] = [["role": "system", "content": Self.passage]]
            var answers: [String] = [], cached: [Int] = []
            for q in ["Who was Dolly?", "Where was she cloned?", "When did she die?"] {
                messages.append(["role": "user", "content": q])
                let r = try await s.post("/v1/chat/completions", ["messages": messages, "temperature": 0, "max_tokens": 24])
                XCTAssertEqual(r.status, 200, r.text)
                let answer = ServerTests.content(r) ?? ""
                let usage = r.json["usage"] as? [String: Any]
                cached.append((usage?["prompt_tokens_details"] as? [String: Int])?["cached_tokens"] ?? -1)
                answers.append(answer)
                messages.append(["role": "assistant", "content": answer])
            }
            return (answers, cached)
        }
        let s = try await ServerHarness { $0.parallel = 1 }
        let reused = try await converse(s)
        try await s.stop()
        let plain = try await ServerHarness { $0.parallel = 1; $0.prefixCache = false }
        let recomputed = try await converse(plain)
        try await plain.stop()
        XCTAssertEqual(reused.answers, recomputed.answers)
        XCTAssertEqual(recomputed.cached, [0, 0, 0])
        XCTAssertEqual(reused.cached[0], 0)
        let first = try ChatPrompt([turn("system", Self.passage), turn("user", "Who was Dolly?")]).text()
        let firstTokens = ServerTests.model.tokenizer.encode(first).count
        XCTAssertGreaterThan(reused.cached[1], firstTokens, "turn 2 reuses turn 1's prompt and answer")
        XCTAssertGreaterThan(reused.cached[2], reused.cached[1])
    }
}

/// Ollama's `/api/chat` answer when the text is a call: `tool_calls` with the arguments as an object.
final class OllamaToolCallTests: XCTestCase {
    func testACallBecomesToolCallsWithObjectArguments() throws {
        let call = OllamaRoutes.message(#"{"name": "get_weather", "arguments": {"city": "Oslo"}}"#, callsTools: true, contentSent: false)
        XCTAssertEqual(call.content, "")
        XCTAssertEqual(call.toolCalls?.first?.function.name, "get_weather")
        XCTAssertEqual(call.toolCalls?.first?.function.arguments, .object(["city": .string("Oslo")]))
        let text = OllamaRoutes.message("It is cold.", callsTools: true, contentSent: false)
        XCTAssertEqual(text.content, "It is cold.")
        XCTAssertNil(text.toolCalls)
        XCTAssertEqual(OllamaRoutes.message("It is cold.", callsTools: true, contentSent: true).content, "")
    }
}
