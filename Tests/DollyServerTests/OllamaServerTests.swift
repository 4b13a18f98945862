import DollyKit
import DollyServer
import Foundation
import XCTest

/// Ollama's API on the same engine: answers equal OpenAI's endpoints' (greedy), NDJSON streams equal
/// whole answers, timing fields are nanoseconds, and errors are Ollama's `{"error": "..."}`.
final class OllamaServerTests: XCTestCase {
    func lines(_ r: ServerHarness.Reply) -> [[String: Any]] {
        r.text.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }

    func testGenerateAndChatEqualOpenAIsAnswersStreamedAndNot() async throws {
        let s = try await ServerHarness()
        let q = "Why is the sky blue?"
        let greedy = ServerTests.greedy(q, max: 32)
        let options: [String: Any] = ["temperature": 0, "num_predict": 32]

        let g = try await s.post("/api/generate", ["model": "dolly-demo", "prompt": q, "stream": false, "options": options])
        XCTAssertEqual(g.status, 200, g.text)
        XCTAssertEqual(g.json["response"] as? String, greedy)
        XCTAssertEqual(g.json["done"] as? Bool, true)
        XCTAssertEqual(g.json["model"] as? String, "dolly-demo:latest")
        let evalCount = try XCTUnwrap(g.json["eval_count"] as? Int)
        XCTAssertGreaterThan(evalCount, 0)
        XCTAssertLessThanOrEqual(evalCount, 32)
        XCTAssertEqual(g.json["done_reason"] as? String, evalCount == 32 ? "length" : "stop")
        for field in ["total_duration", "prompt_eval_duration", "eval_duration"] {
            let ns = try XCTUnwrap(g.json[field] as? Int, field)
            XCTAssertGreaterThan(ns, 10_000, "\(field) is in nanoseconds")
            XCTAssertLessThan(ns, 120_000_000_000, field)
        }
        XCTAssertGreaterThanOrEqual(g.json["total_duration"] as! Int, (g.json["eval_duration"] as! Int) + (g.json["prompt_eval_duration"] as! Int))
        let created = try XCTUnwrap(g.json["created_at"] as? String)
        XCTAssertNotNil(ISO8601DateFormatter.withFractions.date(from: created), created)
        let context = try XCTUnwrap(g.json["context"] as? [Int])
        XCTAssertEqual(context.count, (g.json["prompt_eval_count"] as? Int ?? 0) + evalCount)

        let streamed = try await s.post("/api/generate", ["model": "dolly-demo", "prompt": q, "options": options])
        XCTAssertEqual(streamed.headers["content-type"], "application/x-ndjson")
        let parts = lines(streamed)
        XCTAssertGreaterThan(parts.count, 2)
        XCTAssertEqual(parts.dropLast().map { $0["done"] as? Bool }, Array(repeating: false, count: parts.count - 1))
        XCTAssertEqual(parts.last?["done"] as? Bool, true)
        XCTAssertEqual(parts.compactMap { $0["response"] as? String }.joined(), greedy)
        XCTAssertEqual(parts.last?["eval_count"] as? Int, evalCount)

        let messages = [["role": "user", "content": q]]
        let c = try await s.post("/api/chat", ["model": "dolly-demo:latest", "messages": messages, "stream": false, "options": options])
        XCTAssertEqual(c.status, 200, c.text)
        XCTAssertEqual((c.json["message"] as? [String: Any])?["content"] as? String, greedy)
        XCTAssertEqual((c.json["message"] as? [String: Any])?["role"] as? String, "assistant")
        let openAI = try await s.post("/v1/chat/completions", ["messages": messages, "temperature": 0, "max_tokens": 32])
        XCTAssertEqual(ServerTests.content(openAI), greedy)
        let chatParts = lines(try await s.post("/api/chat", ["model": "dolly-demo", "messages": messages, "options": options]))
        XCTAssertEqual(chatParts.compactMap { ($0["message"] as? [String: Any])?["content"] as? String }.joined(), greedy)
        XCTAssertEqual(chatParts.last?["done_reason"] as? String, c.json["done_reason"] as? String)
        try await s.stop()
    }

    func testContextContinuesAConversationFromTheCache() async throws {
        let s = try await ServerHarness { $0.parallel = 1 }
        let first = try await s.post("/api/generate", ["model": "dolly-demo", "prompt": "Name a color.", "stream": false,
                                                       "options": ["temperature": 0, "num_predict": 8]])
        let context = try XCTUnwrap(first.json["context"] as? [Int])
        let second = try await s.post("/api/generate", ["model": "dolly-demo", "prompt": "Name another.", "stream": false,
                                                        "context": context, "options": ["temperature": 0, "num_predict": 8]])
        XCTAssertEqual(second.status, 200, second.text)
        let evaluated = try XCTUnwrap(second.json["prompt_eval_count"] as? Int)
        let whole = try XCTUnwrap(second.json["context"] as? [Int])
        XCTAssertEqual(Array(whole.prefix(context.count)), context)
        XCTAssertLessThan(evaluated, whole.count - context.count + 1, "only the new turn is evaluated")
        try await s.stop()
    }

    func testModelListingsAndErrorsInOllamasShape() async throws {
        let s = try await ServerHarness()
        let tags = try await s.request(.GET, "/api/tags")
        let model = try XCTUnwrap((tags.json["models"] as? [[String: Any]])?.first)
        XCTAssertEqual(model["name"] as? String, "dolly-demo:latest")
        let details = try XCTUnwrap(model["details"] as? [String: Any])
        XCTAssertEqual(details["family"] as? String, "gptneox")
        XCTAssertGreaterThan(model["size"] as? Int ?? 0, 1_000_000)
        let show = try await s.post("/api/show", ["model": "dolly-demo"])
        XCTAssertEqual(show.status, 200, show.text)
        let info = try XCTUnwrap(show.json["model_info"] as? [String: Any])
        XCTAssertEqual(info["general.architecture"] as? String, "gptneox")
        XCTAssertEqual(info["gptneox.block_count"] as? Int, ServerTests.model.config.numHiddenLayers)
        XCTAssertTrue((show.json["template"] as? String)?.contains("### Instruction:") == true)
        let ps = try await s.request(.GET, "/api/ps")
        XCTAssertEqual(((ps.json["models"] as? [[String: Any]])?.first)?["context_length"] as? Int, 256)
        let version = try await s.request(.GET, "/api/version")
        XCTAssertEqual(version.json["version"] as? String, DollyVersion.string)

        let cases: [(String, [String: Any], Int, String)] = [
            ("/api/generate", ["model": "llama3", "prompt": "x"], 404, "model 'llama3' not found"),
            ("/api/show", ["model": "llama3"], 404, "not found"),
            ("/api/generate", ["model": "dolly-demo", "prompt": "x", "options": ["mirostat": 2]], 400, "mirostat"),
            ("/api/generate", ["model": "dolly-demo", "prompt": "x", "options": ["bogus": 1]], 400, "bogus"),
            ("/api/generate", ["model": "dolly-demo", "prompt": "x", "images": ["aGk="]], 400, "images"),
            ("/api/generate", ["model": "dolly-demo", "prompt": "x", "think": true], 400, "think"),
            ("/api/generate", ["model": "dolly-demo", "prompt": "x", "options": ["num_ctx": 100_000]], 400, "num_ctx"),
            ("/api/generate", ["model": "dolly-demo", "prompt": "x", "options": ["temperature": -1]], 400, "temperature"),
            ("/api/chat", ["model": "dolly-demo", "messages": [["role": "assistant", "content": "hi"]]], 400, "user message"),
            ("/api/chat", ["model": "dolly-demo", "messages": [["role": "user", "content": "x"]], "format": "yaml"], 400, "format"),
            ("/api/generate", ["prompt": "x"], 400, "model"),
        ]
        for (path, body, status, words) in cases {
            let r = try await s.post(path, body)
            XCTAssertEqual(r.status, status, "\(path) \(body): \(r.text)")
            let message = try XCTUnwrap(r.json["error"] as? String, "Ollama's error is a string: \(r.text)")
            XCTAssertTrue(message.contains(words), "\(message) should name \(words)")
        }
        let missing = try await s.request(.GET, "/api/nothing")
        XCTAssertEqual(missing.status, 404)
        XCTAssertNotNil(missing.json["error"] as? String)
        // Loading a model is an empty prompt: done at once.
        let load = try await s.post("/api/generate", ["model": "dolly-demo"])
        XCTAssertEqual(load.json["done_reason"] as? String, "load")
        // format "json": the answer parses.
        let json = try await s.post("/api/generate", ["model": "dolly-demo", "prompt": "A JSON object with a name.",
                                                      "format": "json", "stream": false, "options": ["num_predict": 40, "seed": 3]])
        XCTAssertEqual(json.status, 200, json.text)
        let answer = try XCTUnwrap(json.json["response"] as? String)
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(answer.utf8)), answer)
        try await s.stop()
    }
}

extension ISO8601DateFormatter {
    static var withFractions: ISO8601DateFormatter {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }
}
