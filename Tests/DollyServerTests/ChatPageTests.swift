import AsyncHTTPClient
import DollyServer
import Foundation
import NIOCore
import XCTest

/// The chat page at GET / (ChatPage): its three files, byte for byte the ones in Sources/DollyServer/WebUI,
/// with their types and the strict CSP; exempt from the API key while the API is not; absent with webUI off.
/// The page in a real browser is tools/ci/browser_chat.py.
final class ChatPageTests: XCTestCase {
    static let webUI = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/DollyServer/WebUI")

    static let csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    /// Path served, source file, Content-Type.
    static let files = [("/", "index.html", "text/html; charset=utf-8"),
                        ("/chat.js", "chat.js", "text/javascript; charset=utf-8"),
                        ("/chat.css", "chat.css", "text/css; charset=utf-8")]

    func testFilesAreTheSourcesWithTheirTypesAndHeaders() async throws {
        let s = try await ServerHarness()
        for (path, file, type) in Self.files {
            let r = try await s.request(.GET, path)
            XCTAssertEqual(r.status, 200, path)
            XCTAssertEqual(r.headers["content-type"], type, path)
            XCTAssertEqual(r.headers["content-security-policy"], Self.csp, path)
            XCTAssertEqual(r.headers["x-content-type-options"], "nosniff", path)
            XCTAssertEqual(r.headers["cache-control"], "no-cache", path)
            let source = try Data(contentsOf: Self.webUI.appendingPathComponent(file))
            XCTAssertGreaterThan(source.count, 100, file)
            XCTAssertEqual(r.body, source, "\(path) is not Sources/DollyServer/WebUI/\(file): rebuild")
        }
        // The page loads its script and style from this server, and nothing inline (the CSP forbids it).
        let html = try await s.request(.GET, "/").text
        XCTAssertTrue(html.contains("<script src=\"chat.js\""), html)
        XCTAssertTrue(html.contains("<link rel=\"stylesheet\" href=\"chat.css\">"), html)
        XCTAssertFalse(html.contains("<style"), "inline style")
        XCTAssertFalse(html.contains(" style="), "inline style attribute")
        XCTAssertFalse(html.contains("<script>"), "inline script")
        XCTAssertNil(html.range(of: #" on[a-z]+="#, options: .regularExpression), "inline event handler")
        try await s.stop()
    }

    func testHeadAnswersWithoutABody() async throws {
        let s = try await ServerHarness()
        for (path, file, type) in Self.files {
            let r = try await head(s, path)
            XCTAssertEqual(r.status, 200, path)
            XCTAssertEqual(r.headers["content-type"], type, path)
            XCTAssertEqual(r.headers["content-security-policy"], Self.csp, path)
            let size = try Data(contentsOf: Self.webUI.appendingPathComponent(file)).count
            XCTAssertEqual(r.headers["content-length"], String(size), path)
            XCTAssertTrue(r.body.isEmpty, path)
        }
        try await s.stop()
    }

    func testThePageNeedsNoKeyButTheAPIDoes() async throws {
        let s = try await ServerHarness { $0.apiKey = "secret" }
        for (path, _, _) in Self.files {
            let r = try await s.request(.GET, path)
            XCTAssertEqual(r.status, 200, path)
        }
        let headReply = try await head(s, "/chat.js")
        XCTAssertEqual(headReply.status, 200)
        let models = try await s.request(.GET, "/v1/models")
        XCTAssertEqual(models.status, 401, models.text)
        let keyed = try await s.request(.GET, "/v1/models", headers: ["Authorization": "Bearer secret"])
        XCTAssertEqual(keyed.status, 200, keyed.text)
        // Only the page's exact paths and methods are exempt.
        for (method, path) in [(ServerHarness.Method.GET, "/index.html"), (.GET, "/chat.js/x"), (.GET, "/metrics"),
                               (.POST, "/"), (.POST, "/chat.js")] {
            let r = try await s.request(method, path, body: method == .POST ? Data("{}".utf8) : nil)
            XCTAssertEqual(r.status, 401, "\(method) \(path)")
        }
        let chat = try await s.post("/v1/chat/completions", ["messages": [["role": "user", "content": "Hi"]], "max_tokens": 2])
        XCTAssertEqual(chat.status, 401, chat.text)
        try await s.stop()
    }

    func testWebUIOffLeavesNoPage() async throws {
        let s = try await ServerHarness { $0.webUI = false }
        for (path, _, _) in Self.files {
            let r = try await s.request(.GET, path)
            XCTAssertEqual(r.status, 404, path)
            XCTAssertNil(r.headers["content-security-policy"], path)
        }
        let models = try await s.request(.GET, "/v1/models")
        XCTAssertEqual(models.status, 200, models.text)
        try await s.stop()
    }

    /// HEAD (the harness's methods are the API's).
    func head(_ s: ServerHarness, _ path: String) async throws -> ServerHarness.Reply {
        var r = HTTPClientRequest(url: "http://127.0.0.1:\(s.port)\(path)")
        r.method = .HEAD
        let response = try await s.client.execute(r, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        var h: [String: String] = [:]
        for field in response.headers { h[field.name.lowercased()] = field.value }
        return ServerHarness.Reply(status: Int(response.status.code), headers: h, body: Data(buffer: bytes))
    }

    func testDefaultConfigurationServesThePage() {
        XCTAssertTrue(ServerConfiguration(modelPath: "x").webUI)
    }
}
