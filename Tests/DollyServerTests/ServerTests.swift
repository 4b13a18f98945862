import AsyncHTTPClient
import DollyKit
import DollyServer
import Foundation
import NIOCore
import XCTest

/// `dolly serve` against the library it serves: greedy answers equal `DollyModel.generate`'s (what
/// `dolly run --greedy` prints), streaming equals non-streaming, concurrent requests equal sequential
/// ones, and every bad request gets a 4xx error object while the server keeps serving.
final class ServerTests: XCTestCase {
    static let model = try! DollyModel.load(path: ServerHarness.demoPath)

    static func greedy(_ text: String, raw: Bool = false, max: Int = 48) -> String {
        let session = try! model.network.makeSession(contextLength: 256)
        var out = ""
        _ = try! model.generate(GenerationRequest(text: text, raw: raw, maxNewTokens: max, sampling: .greedyDecoding),
                                session: session) { out += $0; return true }
        return out
    }

    static let questions = ["Why is the sky blue?", "Name three colors.", "Write a haiku about rain.",
                            "What is a prime number?", "Give me a word that rhymes with cat.",
                            "Explain gravity to a child.", "List the planets.", "Say hello."]

    func chat(_ text: String, extra: [String: Any] = [:]) -> [String: Any] { Self.chat(text, extra: extra) }
    func content(_ r: ServerHarness.Reply) -> String? { Self.content(r) }

    static func chat(_ text: String, extra: [String: Any] = [:]) -> [String: Any] {
        ["messages": [["role": "user", "content": text]], "temperature": 0, "max_tokens": 48].merging(extra) { $1 }
    }

    static func content(_ r: ServerHarness.Reply) -> String? {
        ((r.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
    }

    func testGreedyChatAndCompletionEqualTheLibrary() async throws {
        let s = try await ServerHarness()
        let r = try await s.post("/v1/chat/completions", chat("Why is the sky blue?"))
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(content(r), Self.greedy("Why is the sky blue?"))
        let usage = try XCTUnwrap(r.json["usage"] as? [String: Any])
        XCTAssertEqual(usage["prompt_tokens"] as? Int, try Self.model.promptTokens(for: GenerationRequest(text: "Why is the sky blue?")).count)
        XCTAssertEqual(r.json["object"] as? String, "chat.completion")

        let c = try await s.post("/v1/completions", ["prompt": "Once upon a time", "temperature": 0, "max_tokens": 30])
        XCTAssertEqual(c.status, 200, c.text)
        let text = (c.json["choices"] as? [[String: Any]])?.first?["text"] as? String
        XCTAssertEqual(text, Self.greedy("Once upon a time", raw: true, max: 30))
        try await s.stop()
    }

    func testStreamEqualsNonStreamed() async throws {
        let s = try await ServerHarness()
        for q in Self.questions.prefix(3) {
            let whole = try await s.post("/v1/chat/completions", chat(q))
            let streamed = try await s.post("/v1/chat/completions", chat(q, extra: ["stream": true,
                                                                                     "stream_options": ["include_usage": true]]))
            XCTAssertEqual(streamed.headers["content-type"], "text/event-stream")
            let events = streamed.events
            XCTAssertEqual(events.last, "[DONE]")
            var text = "", finish: String?, usage: [String: Any]?
            for e in events.dropLast() {
                let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(e.utf8)) as? [String: Any])
                XCTAssertEqual(obj["object"] as? String, "chat.completion.chunk")
                let choices = try XCTUnwrap(obj["choices"] as? [[String: Any]])
                for choice in choices {
                    text += ((choice["delta"] as? [String: Any])?["content"] as? String) ?? ""
                    if let f = choice["finish_reason"] as? String { finish = f }
                }
                if let u = obj["usage"] as? [String: Any] {
                    usage = u
                    XCTAssertTrue(choices.isEmpty, "usage comes in a chunk of its own, as OpenAI sends it")
                }
            }
            XCTAssertEqual(text, content(whole))
            XCTAssertEqual(finish, ((whole.json["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String))
            XCTAssertEqual(usage?["completion_tokens"] as? Int, (whole.json["usage"] as? [String: Any])?["completion_tokens"] as? Int)
        }
        try await s.stop()
    }

    func testEightConcurrentGreedyRequestsEqualSequential() async throws {
        let s = try await ServerHarness { $0.parallel = 4 }
        let expected = Self.questions.map { Self.greedy($0) }
        let got = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
            for (i, q) in Self.questions.enumerated() {
                group.addTask { (i, Self.content(try await s.post("/v1/chat/completions", Self.chat(q)))) }
            }
            var out = [String?](repeating: nil, count: Self.questions.count)
            for try await (i, text) in group { out[i] = text }
            return out
        }
        XCTAssertEqual(got, expected.map { Optional($0) })
        let metrics = try await s.request(.GET, "/metrics")
        XCTAssertTrue(metrics.text.contains("dolly_requests_total{status=\"200\"} 8"), metrics.text)
        XCTAssertTrue(metrics.text.contains("dolly_generated_tokens_total"), metrics.text)
        try await s.stop()
    }

    func testBadRequestsAnswer4xxAndTheServerKeepsServing() async throws {
        let s = try await ServerHarness { $0.context = 128 }
        let cases: [(String, Data, Int)] = [
            ("malformed JSON", Data("{\"messages\": [".utf8), 400),
            ("not UTF-8", Data([0x7B, 0x22, 0x6D, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D]), 400),
            ("no body", Data(), 400),
            ("messages missing", try JSONSerialization.data(withJSONObject: ["model": "x"]), 400),
            ("messages empty", try JSONSerialization.data(withJSONObject: ["messages": []]), 400),
            ("wrong type", try JSONSerialization.data(withJSONObject: ["messages": "hi"]), 400),
            ("temperature wrong type", try JSONSerialization.data(withJSONObject: chat("hi", extra: ["temperature": "hot"])), 400),
            ("empty user message", try JSONSerialization.data(withJSONObject: ["messages": [["role": "user", "content": " "]]]), 400),
            ("last message not the user's", try JSONSerialization.data(withJSONObject: ["messages": [
                ["role": "user", "content": "hi"], ["role": "assistant", "content": "hello"]]]), 400),
            ("unknown role", try JSONSerialization.data(withJSONObject: ["messages": [
                ["role": "robot", "content": "x"], ["role": "user", "content": "hi"]]]), 400),
            ("temperature < 0", try JSONSerialization.data(withJSONObject: chat("hi", extra: ["temperature": -1])), 400),
            ("top_p > 1", try JSONSerialization.data(withJSONObject: chat("hi", extra: ["top_p": 1.5])), 400),
            ("presence_penalty > 2", try JSONSerialization.data(withJSONObject: chat("hi", extra: ["presence_penalty": 3])), 400),
            ("n = 2", try JSONSerialization.data(withJSONObject: chat("hi", extra: ["n": 2])), 400),
            ("max_tokens 0", try JSONSerialization.data(withJSONObject: chat("hi", extra: ["max_tokens": 0])), 400),
            ("max_tokens beyond the context", try JSONSerialization.data(withJSONObject: chat("hi", extra: ["max_tokens": 500])), 400),
            ("prompt longer than the context", try JSONSerialization.data(withJSONObject: chat(String(repeating: "word ", count: 400))), 400),
            ("five stop texts", try JSONSerialization.data(withJSONObject: chat("hi", extra: ["stop": ["a", "b", "c", "d", "e"]])), 400),
            ("body over 1 MiB", try JSONSerialization.data(withJSONObject: chat(String(repeating: "x", count: 1 << 20 + 10))), 413),
        ]
        for (name, body, status) in cases {
            let r = try await s.request(.POST, "/v1/chat/completions", body: body)
            XCTAssertEqual(r.status, status, "\(name): \(r.text)")
            let error: [String: Any] = r.json["error"] as? [String: Any] ?? [:]
            XCTAssertTrue(error["message"] is String, "\(name): \(r.text)")
            XCTAssertTrue(error["type"] is String, name)
        }
        let completionCases: [[String: Any]] = [["prompt": 5], ["prompt": [99999999]], ["prompt": "hi", "logprobs": 6],
                                                ["prompt": ["a", "b"]], ["prompt": ""]]
        for body in completionCases {
            let r = try await s.post("/v1/completions", body)
            XCTAssertEqual(r.status, 400, "\(body): \(r.text)")
            XCTAssertNotNil((r.json["error"] as? [String: Any])?["message"], r.text)
        }
        let unknown = try await s.request(.GET, "/v2/nothing")
        XCTAssertEqual(unknown.status, 404)
        XCTAssertNotNil((unknown.json["error"] as? [String: Any])?["message"], unknown.text)
        let detok = try await s.post("/detokenize", ["tokens": [-1]])
        XCTAssertEqual(detok.status, 400)
        // Still serving.
        let ok = try await s.post("/v1/chat/completions", chat("Say hello."))
        XCTAssertEqual(ok.status, 200, ok.text)
        XCTAssertEqual(content(ok), Self.greedy("Say hello."))
        try await s.stop()
    }

    func testAPIKeyAndCORS() async throws {
        let s = try await ServerHarness {
            $0.apiKey = "sekrit"
            $0.corsOrigin = "http://localhost:3000"
        }
        let health = try await s.request(.GET, "/health")
        XCTAssertEqual(health.status, 200)
        for headers in [[:], ["Authorization": "Bearer nope"], ["Authorization": "sekrit"]] {
            let r = try await s.request(.GET, "/v1/models", headers: headers)
            XCTAssertEqual(r.status, 401, "\(headers)")
            XCTAssertEqual((r.json["error"] as? [String: Any])?["code"] as? String, "invalid_api_key")
        }
        let ok = try await s.request(.GET, "/v1/models", headers: ["Authorization": "Bearer sekrit", "Origin": "http://localhost:3000"])
        XCTAssertEqual(ok.status, 200)
        XCTAssertEqual(((ok.json["data"] as? [[String: Any]])?.first)?["id"] as? String, "dolly-demo")
        XCTAssertEqual(ok.headers["access-control-allow-origin"], "http://localhost:3000")
        let preflight = try await s.request(.OPTIONS, "/v1/chat/completions", headers: [
            "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"])
        XCTAssertLessThan(preflight.status, 300)
        XCTAssertEqual(preflight.headers["access-control-allow-origin"], "http://localhost:3000")
        try await s.stop()
    }

    func testClientThatLeavesMidStreamFreesItsSlot() async throws {
        let s = try await ServerHarness { $0.parallel = 1 }
        var iterator = try await s.openStream("/v1/completions", [
            "prompt": "Once upon a time", "max_tokens": 200, "stream": true, "temperature": 1, "seed": 1])
        _ = try await iterator.next()  // the first event, then hang up
        try await s.client.shutdown()  // closes the connection mid-stream
        let other = ServerHarnessClient(port: s.port)
        let next = try await other.post("/v1/chat/completions", chat("Name three colors."))
        XCTAssertEqual(next.status, 200)
        XCTAssertEqual(content(next), Self.greedy("Name three colors."))
        try await other.close()
        await s.server.shutdown()
    }

    func testTokenizeEqualsTheTokenizer() async throws {
        let s = try await ServerHarness()
        let text = "Hello, world! Ünïcödé and ### Instruction: tokens"
        let r = try await s.post("/tokenize", ["content": text])
        XCTAssertEqual(r.json["tokens"] as? [Int], Self.model.tokenizer.encode(text).map(Int.init))
        let back = try await s.post("/detokenize", ["tokens": r.json["tokens"] ?? []])
        XCTAssertEqual(back.json["content"] as? String, text)
        try await s.stop()
    }

    func testQueueFullAnswers503WithRetryAfter() async throws {
        let s = try await ServerHarness {
            $0.parallel = 1
            $0.maxQueue = 0
        }
        // A streamed answer holds the only slot from its first event on (a plain request raced the next
        // one for the slot, and could lose it).
        var iterator = try await s.openStream("/v1/completions", [
            "prompt": "Once upon a time", "max_tokens": 240, "stream": true, "seed": 3, "stop": ["zzzz"]])
        _ = try await iterator.next()
        let busy = try await s.post("/v1/completions", ["prompt": "Hi", "max_tokens": 1])
        while try await iterator.next() != nil {}
        try await s.stop()  // before any assertion can throw: a client left open would abort the test process
        XCTAssertEqual(busy.status, 503, "a second request while the only slot is busy")
        XCTAssertEqual(busy.headers["retry-after"], "1")
        XCTAssertEqual((busy.json["error"] as? [String: Any])?["code"] as? String, "server_busy")
    }

    func testShutdownEndsRunningStreamsAfterTheGrace() async throws {
        let s = try await ServerHarness {
            $0.shutdownGrace = 0
            $0.parallel = 1
        }
        var iterator = try await s.openStream("/v1/completions", [
            "prompt": "Once upon a time", "max_tokens": 240, "stream": true, "seed": 5, "stop": ["zzzz"]])
        var text = String(buffer: try await iterator.next() ?? ByteBuffer())
        await s.server.shutdown()
        while let chunk = try await iterator.next() { text += String(buffer: chunk) }
        XCTAssertTrue(text.hasSuffix("data: [DONE]\n\n"), text)
        try await s.client.shutdown()
    }
}

/// A second client, for after the harness's own was closed.
struct ServerHarnessClient {
    let port: Int
    let client = HTTPClient(eventLoopGroupProvider: .singleton)

    func post(_ path: String, _ json: [String: Any]) async throws -> ServerHarness.Reply {
        var r = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        r.method = .POST
        r.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
        let response = try await client.execute(r, timeout: .seconds(60))
        return ServerHarness.Reply(status: Int(response.status.code), headers: [:],
                                   body: Data(buffer: try await response.body.collect(upTo: 1 << 24)))
    }

    func close() async throws { try await client.shutdown() }
}
