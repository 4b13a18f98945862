import AsyncHTTPClient
import DollyKit
import DollyServer
import Foundation
import NIOCore
import XCTest

/// A `DollyServer` on an ephemeral loopback port in this process, and an HTTP client for it.
final class ServerHarness: @unchecked Sendable {
    static let demoPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/dolly-demo").path

    let server: DollyServer
    private(set) var port = 0
    private var task: Task<Void, Error>?
    let client = HTTPClient(eventLoopGroupProvider: .singleton)

    init(_ configure: (inout ServerConfiguration) -> Void = { _ in }) async throws {
        var c = ServerConfiguration(modelPath: Self.demoPath, port: 0, threads: 2)
        configure(&c)
        server = DollyServer(configuration: c)
        let ready = AsyncStream<Int>.makeStream()
        let server = self.server
        task = Task { try await server.run(handleSignals: false, onReady: { ready.continuation.yield($0) }) }
        for await p in ready.stream {
            port = p
            break
        }
    }

    func stop() async throws {
        await server.shutdown()
        _ = try await task?.value
        try await client.shutdown()
    }

    struct Reply {
        let status: Int
        let headers: [String: String]
        let body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
        /// `data:` payloads of a server-sent event stream.
        var events: [String] {
            text.components(separatedBy: "\n\n").compactMap { $0.hasPrefix("data: ") ? String($0.dropFirst(6)) : nil }
        }
    }

    enum Method { case GET, POST, OPTIONS, DELETE }

    /// Posts a JSON body and returns the response body unread, to consume (or abandon) event by event.
    func openStream(_ path: String, _ body: [String: Any]) async throws -> HTTPClientResponse.Body.AsyncIterator {
        var r = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        r.method = .POST
        r.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        return try await client.execute(r, timeout: .seconds(60)).body.makeAsyncIterator()
    }

    func request(_ method: Method, _ path: String, body: Data? = nil, headers: [String: String] = [:]) async throws -> Reply {
        var r = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        switch method {
        case .GET: r.method = .GET
        case .POST: r.method = .POST
        case .OPTIONS: r.method = .OPTIONS
        case .DELETE: r.method = .DELETE
        }
        for (k, v) in headers { r.headers.add(name: k, value: v) }
        if let body {
            r.headers.add(name: "Content-Type", value: "application/json")
            r.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await client.execute(r, timeout: .seconds(120))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        var h: [String: String] = [:]
        for field in response.headers { h[field.name.lowercased()] = field.value }
        return Reply(status: Int(response.status.code), headers: h, body: Data(buffer: bytes))
    }

    func post(_ path: String, _ json: [String: Any], headers: [String: String] = [:]) async throws -> Reply {
        try await request(.POST, path, body: try JSONSerialization.data(withJSONObject: json), headers: headers)
    }
}
