import CSIMD
import DollyKit
import DollyServer
import Foundation
import XCTest

/// `serve --lora name=FILE`, `"model": "<model>+name"` in both APIs, the listings, and adding and
/// removing adapters while the server runs (a running request keeps the adapter it started with).
final class AdapterServerTests: XCTestCase {
    static let model = ServerTests.model

    /// Two random adapters for the demo model (f16, all four matrices, rank 4).
    static let files: [String] = {
        let dir = try! FileManager.default.url(for: .itemReplacementDirectory, in: .userDomainMask,
                                               appropriateFor: URL(fileURLWithPath: NSTemporaryDirectory()), create: true)
        let c = model.config
        return (1...2).map { seed -> String in
            var s = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1
            func value() -> Float {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17
                return Float(Int64(s >> 40) - (1 << 23)) / Float(1 << 23) * 0.2
            }
            var deltas: [AdapterDelta] = []
            for l in 0..<c.numHiddenLayers {
                for m in AdapterDelta.matrices {
                    let shape = m.shape(c)
                    deltas.append(AdapterDelta(layer: l, matrix: m, rank: 4, a: (0..<4 * shape[1]).map { _ in value() },
                                               b: (0..<shape[0] * 4).map { _ in value() }, scale: 2))
                }
            }
            let path = dir.appendingPathComponent("a\(seed).dolly-lora").path
            try! AdapterFile.write(deltas, to: path, type: .f16, base: c, identity: "seed \(seed)")
            return path
        }
    }()

    /// The library's greedy answer with `file` applied.
    static func greedy(_ text: String, adapter file: String?, max: Int = 32) throws -> String {
        let session = try model.network.makeSession(contextLength: 256)
        session.adapter = try file.map { try LoRAAdapter(path: $0, model: model.network) }
        var out = ""
        _ = try model.generate(GenerationRequest(text: text, maxNewTokens: max, sampling: .greedyDecoding), session: session) {
            out += $0
            return true
        }
        return out
    }

    func chat(_ s: ServerHarness, _ model: String, _ q: String) async throws -> ServerHarness.Reply {
        try await s.post("/v1/chat/completions", ServerTests.chat(q, extra: ["model": model, "max_tokens": 32]))
    }

    func testRequestsPickAdaptersByModelName() async throws {
        let q = "Name three colors."
        let base = try Self.greedy(q, adapter: nil), one = try Self.greedy(q, adapter: Self.files[0])
        let two = try Self.greedy(q, adapter: Self.files[1])
        XCTAssertNotEqual(one, base)
        XCTAssertNotEqual(two, one)
        let s = try await ServerHarness { $0.adapters = [.init(name: "one", path: Self.files[0])] }

        let models = try await s.request(.GET, "/v1/models")
        XCTAssertEqual((models.json["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }, ["dolly-demo", "dolly-demo+one"])
        var r = try await chat(s, "dolly-demo+one", q)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(ServerTests.content(r), one)
        XCTAssertEqual(r.json["model"] as? String, "dolly-demo+one")
        let plain = try await chat(s, "dolly-demo", q)
        XCTAssertEqual(ServerTests.content(plain), base)

        // Unknown adapter: 404 in each API's shape.
        r = try await chat(s, "dolly-demo+nope", q)
        XCTAssertEqual(r.status, 404)
        XCTAssertEqual((r.json["error"] as? [String: Any])?["code"] as? String, "model_not_found")
        r = try await s.post("/api/generate", ["model": "dolly-demo+nope", "prompt": q, "stream": false])
        XCTAssertEqual(r.status, 404)
        XCTAssertNotNil(r.json["error"] as? String, r.text)

        // Added without a restart; Ollama's API takes the same name.
        r = try await s.post("/adapters", ["name": "two", "path": Self.files[1]])
        XCTAssertEqual(r.status, 201, r.text)
        XCTAssertEqual(r.json["model"] as? String, "dolly-demo+two")
        let added = try await chat(s, "dolly-demo+two", q)
        XCTAssertEqual(ServerTests.content(added), two)
        r = try await s.post("/api/chat", ["model": "dolly-demo+two:latest", "messages": [["role": "user", "content": q]],
                                           "stream": false, "options": ["temperature": 0, "num_predict": 32]])
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual((r.json["message"] as? [String: Any])?["content"] as? String, two)
        let tags = try await s.request(.GET, "/api/tags")
        XCTAssertEqual((tags.json["models"] as? [[String: Any]])?.compactMap { $0["name"] as? String },
                       ["dolly-demo:latest", "dolly-demo+one:latest", "dolly-demo+two:latest"])
        r = try await s.post("/adapters", ["name": "two", "path": Self.files[1]])
        XCTAssertEqual(r.status, 400, "a taken name")
        r = try await s.post("/adapters", ["name": "three", "path": "/no/such/file"])
        XCTAssertEqual(r.status, 400, "a missing file")

        // Removed while a streamed request runs on it: the request ends with the adapter it started with.
        var events = try await s.openStream("/v1/chat/completions", ServerTests.chat(q, extra: ["model": "dolly-demo+two", "max_tokens": 32, "stream": true]))
        r = try await s.request(.DELETE, "/adapters/two")
        XCTAssertEqual(r.status, 200, r.text)
        var text = ""
        while let chunk = try await events.next() { text += String(buffer: chunk) }
        let streamed = text.components(separatedBy: "\n\n").compactMap { e -> String? in
            guard e.hasPrefix("data: "), let json = try? JSONSerialization.jsonObject(with: Data(e.dropFirst(6).utf8)) as? [String: Any] else { return nil }
            return ((json["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String
        }.joined()
        XCTAssertEqual(streamed, two)
        let gone = try await chat(s, "dolly-demo+two", q)
        XCTAssertEqual(gone.status, 404)
        r = try await s.request(.DELETE, "/adapters/two")
        XCTAssertEqual(r.status, 404)
        XCTAssertEqual((r.json["error"] as? [String: Any])?["code"] as? String, "adapter_not_found")
        let listed = try await s.request(.GET, "/adapters")
        XCTAssertEqual((listed.json["data"] as? [[String: Any]])?.compactMap { $0["name"] as? String }, ["one"])
        try await s.stop()
    }

    func testAdapterEndpointsNeedTheKey() async throws {
        let s = try await ServerHarness { $0.apiKey = "k" }
        let add = try await s.post("/adapters", ["name": "one", "path": Self.files[0]])
        XCTAssertEqual(add.status, 401)
        let delete = try await s.request(.DELETE, "/adapters/one")
        XCTAssertEqual(delete.status, 401)
        let r = try await s.post("/adapters", ["name": "one", "path": Self.files[0]], headers: ["Authorization": "Bearer k"])
        XCTAssertEqual(r.status, 201, r.text)
        try await s.stop()
    }
}
