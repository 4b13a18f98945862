import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
@testable import DollyKit

/// `dolly serve` on a machine whose OpenMP default differs from `--threads` (OMP_NUM_THREADS=8, as on
/// a 4-core / 8-thread laptop): prompts that nearly fill the context, alone and three at once on two
/// slots, all answer and the process stays up. Run by the ASan build too (tools/ci/sanitize.sh).
extension CLITests {
    /// POSTs `body` to each path at once; the HTTP statuses and JSON bodies, in order.
    func postAll(_ base: String, _ requests: [(path: String, body: [String: Any])], timeout: TimeInterval = 120) throws
        -> [(status: Int, json: [String: Any]?)] {
        final class Replies: @unchecked Sendable {
            let lock = NSLock()
            var items: [Int: (Int, Data?)] = [:]
        }
        let replies = Replies(), group = DispatchGroup()
        for (i, r) in requests.enumerated() {
            var request = URLRequest(url: URL(string: base + r.path)!)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "content-type")
            request.httpBody = try JSONSerialization.data(withJSONObject: r.body)
            request.timeoutInterval = timeout
            group.enter()
            URLSession.shared.dataTask(with: request) { data, response, _ in
                let status = (response as? HTTPURLResponse)?.statusCode ?? -1
                replies.lock.withLock { replies.items[i] = (status, data) }
                group.leave()
            }.resume()
        }
        XCTAssertEqual(group.wait(timeout: .now() + timeout), .success)
        return requests.indices.map { i in
            let (status, data) = replies.lock.withLock { replies.items[i] } ?? (-1, nil)
            return (status, data.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] })
        }
    }

    func testServeHonoursThreadsWhateverOMPNumThreadsSays() throws {
        // About 230 of the demo's 256 tokens of context, plus 20 to generate.
        let prompt = String(repeating: "word ", count: 225)
        let body: [String: Any] = ["prompt": prompt, "max_tokens": 20, "temperature": 0]
        for threads in ["1", "2"] {
            let (p, base) = try startServe(["--model", Self.serveDemo, "--parallel", "2", "-t", threads],
                                           environment: ["OMP_NUM_THREADS": "8"])
            defer { if p.isRunning { p.terminate() } }
            let alone = try postAll(base, [("/v1/completions", body)])
            XCTAssertEqual(alone[0].status, 200, "-t \(threads): \(String(describing: alone[0].json))")
            let usage = alone[0].json?["usage"] as? [String: Any]
            XCTAssertGreaterThan(usage?["prompt_tokens"] as? Int ?? 0, 200, "the prompt should nearly fill the context")
            let text = ((alone[0].json?["choices"] as? [[String: Any]])?.first?["text"] as? String)
            let together = try postAll(base, Array(repeating: ("/v1/completions", body), count: 3))
            for r in together {
                XCTAssertEqual(r.status, 200, "-t \(threads): \(String(describing: r.json))")
                // Greedy, so every answer is the one the request got alone.
                XCTAssertEqual((r.json?["choices"] as? [[String: Any]])?.first?["text"] as? String, text)
            }
            XCTAssertTrue(p.isRunning, "-t \(threads): the server died")
            kill(p.processIdentifier, SIGINT)
            let stop = Date().addingTimeInterval(30)
            while p.isRunning && Date() < stop { usleep(20_000) }
            XCTAssertEqual(p.terminationStatus, 0)
        }
    }
}
