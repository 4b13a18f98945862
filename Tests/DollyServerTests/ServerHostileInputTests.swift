import AsyncHTTPClient
import DollyKit
import DollyServer
import Foundation
import NIOCore
import XCTest

/// Requests a hostile client sends: a megabyte-long single word (as a prompt and to /tokenize) must
/// not hold up anyone else, and a string that is not Unicode gets an error that says so.
final class ServerHostileInputTests: XCTestCase {
    /// Just under the 1 MiB body limit once wrapped in JSON.
    static let word = String(repeating: "a", count: (1 << 20) - 256)

    func testMegabyteWordDoesNotDelayAGreedyRequest() async throws {
        let s = try await ServerHarness()
        let expected = ServerTests.greedy("Name three colors.")
        let word = Self.word
        async let prompt = s.post("/v1/completions", ["prompt": word, "max_tokens": 1])
        async let tokenized = s.post("/tokenize", ["content": word])
        try await Task.sleep(nanoseconds: 50_000_000)  // both on their way first
        let start = Date()
        let greedy = try await s.post("/v1/chat/completions", ServerTests.chat("Name three colors."))
        let seconds = Date().timeIntervalSince(start)
        print(String(format: "greedy answer beside a 1 MiB word: %.2f s", seconds))
        let (refused, tokens) = try await (prompt, tokenized)
        try await s.stop()

        XCTAssertEqual(greedy.status, 200, greedy.text)
        XCTAssertEqual(ServerTests.content(greedy), expected)
        XCTAssertLessThan(seconds, 5, "the greedy answer waited for the long word")
        // The prompt cannot fit a 256-token context: refused from its length, before encoding.
        XCTAssertEqual(refused.status, 400, refused.text)
        let message = (refused.json["error"] as? [String: Any])?["message"] as? String ?? ""
        XCTAssertTrue(message.contains("at least") && message.contains("the context holds 256"), message)
        // /tokenize has no budget: it encodes the whole word, eight a's a token (tokenizers' ids for 'a' * 5000).
        XCTAssertEqual(tokens.status, 200)
        let ids = tokens.json["tokens"] as? [Int] ?? []
        XCTAssertEqual(ids.count, word.utf8.count / 8)
        XCTAssertEqual(Set(ids), [Int(ServerTests.model.tokenizer.encode("aaaaaaaa")[0])])
    }

    /// A client that gives up on a long /tokenize: the work stops instead of running to its end.
    func testClientThatLeavesStopsItsTokenization() async throws {
        let s = try await ServerHarness()
        let word = Self.slowWord()
        let impatient = HTTPClient(eventLoopGroupProvider: .singleton)
        var r = HTTPClientRequest(url: "http://127.0.0.1:\(s.port)/tokenize")
        r.method = .POST
        r.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: ["content": word])))
        _ = try? await impatient.execute(r, timeout: .milliseconds(400))  // gives up and closes the connection
        try await impatient.shutdown()
        let cancelled = try await s.waitForMetric("dolly_tokenizations_cancelled_total 1")
        try await s.stop()
        XCTAssertTrue(cancelled, "the tokenization was not stopped")
    }

    /// A shutdown whose grace ends while a long /tokenize runs stops it: the server does not wait for it.
    func testShutdownStopsALongTokenization() async throws {
        let s = try await ServerHarness { $0.shutdownGrace = 0.2 }
        let word = Self.slowWord()
        async let reply = s.post("/tokenize", ["content": word])
        try await s.waitForMetric("dolly_tokenizations_active 1")  // sent, and being tokenized
        let start = Date()
        await s.server.shutdown()
        let r = await (try? reply)
        let seconds = Date().timeIntervalSince(start)
        try await s.stop()  // before any assertion: a client left open would abort the test process
        let text = r?.text ?? "no reply"
        XCTAssertEqual(r?.status, 503, text)
        XCTAssertEqual((r?.json["error"] as? [String: Any])?["code"] as? String, "cancelled", text)
        XCTAssertLessThan(seconds, 10)
    }

    /// A megabyte of random letters: many different merges, far longer to encode than a run of one
    /// letter (seconds in a debug build).
    static func slowWord() -> String {
        var rng = SystemRandomNumberGenerator()
        let letters = Array("etaoinshrdlucmfwyp".utf8)
        return String(decoding: (0..<((1 << 20) - 256)).map { _ in letters[Int.random(in: 0..<letters.count, using: &rng)] },
                      as: UTF8.self)
    }

    func testLoneSurrogateIsNotValidUnicode() async throws {
        let s = try await ServerHarness()
        let chat = try await s.request(.POST, "/v1/chat/completions",
                                       body: Data(#"{"messages": [{"role": "user", "content": "\ud800"}]}"#.utf8))
        let completion = try await s.request(.POST, "/v1/completions", body: Data(#"{"prompt": "a\udc00b"}"#.utf8))
        let tokenize = try await s.request(.POST, "/tokenize", body: Data(#"{"content": "x\ud800\u0041"}"#.utf8))
        let paired = try await s.request(.POST, "/tokenize", body: Data(#"{"content": "\ud83d\ude00"}"#.utf8))
        try await s.stop()
        func message(_ r: ServerHarness.Reply) -> String { (r.json["error"] as? [String: Any])?["message"] as? String ?? r.text }
        XCTAssertEqual(chat.status, 400)
        XCTAssertTrue(message(chat).hasPrefix("messages[0].content: the string is not valid Unicode"), message(chat))
        XCTAssertEqual(completion.status, 400)
        XCTAssertTrue(message(completion).hasPrefix("prompt: the string is not valid Unicode"), message(completion))
        XCTAssertEqual(tokenize.status, 400)
        XCTAssertTrue(message(tokenize).contains("not valid Unicode: \\ud800 is a lone surrogate escape"), message(tokenize))
        XCTAssertEqual(paired.status, 200, paired.text)  // a proper pair is one emoji
        XCTAssertEqual(paired.json["tokens"] as? [Int], ServerTests.model.tokenizer.encode("😀").map(Int.init))
    }
}

extension ServerHarness {
    /// Polls /metrics until it shows `line` (true) or 30 s pass (false).
    @discardableResult
    func waitForMetric(_ line: String) async throws -> Bool {
        let start = Date()
        while Date().timeIntervalSince(start) < 30 {
            if try await request(.GET, "/metrics").text.contains(line) { return true }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        return false
    }
}
