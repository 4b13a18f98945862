import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
@testable import DollyKit

/// `dolly serve` as users start it: the ready line on stderr, an answer equal to `dolly run --greedy`'s
/// stdout, bad flags and a bad model as one clean error, and SIGINT ending it with status 0.
extension CLITests {
    static var serveDemo: String { FixturePaths.root.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("models/dolly-demo").path }

    /// Starts `dolly serve` and returns it with its base URL once it listens.
    func startServe(_ args: [String], environment: [String: String] = [:]) throws -> (Process, String) {
        let p = Process()
        p.executableURL = CLITests.binary
        p.arguments = ["serve", "--port", "0"] + args
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        var text = ""
        let deadline = Date().addingTimeInterval(60)
        while !text.contains("\n") && Date() < deadline {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let line = try XCTUnwrap(text.split(separator: "\n").first.map(String.init), "serve printed: \(text)")
        XCTAssertTrue(line.hasPrefix("listening on http://127.0.0.1:"), line)
        return (p, String(line.dropFirst("listening on ".count)))
    }

    func testServeAnswersLikeRunAndStopsOnSIGINT() throws {
        let run = try dolly(["run", "--model", Self.serveDemo, "--greedy", "--max-tokens", "40", "Name three colors."])
        XCTAssertEqual(run.status, 0)

        let (p, base) = try startServe(["--model", Self.serveDemo, "--parallel", "2", "-t", "2"])
        defer { if p.isRunning { p.terminate() } }

        let body = try JSONSerialization.data(withJSONObject: [
            "messages": [["role": "user", "content": "Name three colors."]], "temperature": 0, "max_tokens": 40])
        var request = URLRequest(url: URL(string: base + "/v1/chat/completions")!)
        request.httpMethod = "POST"
        request.httpBody = body
        final class Reply: @unchecked Sendable { var data: Data? }
        let done = DispatchSemaphore(value: 0), reply = Reply()
        URLSession.shared.dataTask(with: request) { data, _, _ in reply.data = data; done.signal() }.resume()
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: try XCTUnwrap(reply.data)) as? [String: Any])
        let content = ((json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
        XCTAssertEqual(content.map { $0 + "\n" }, run.stdout)

        kill(p.processIdentifier, SIGINT)
        let stop = Date().addingTimeInterval(30)
        while p.isRunning && Date() < stop { usleep(20_000) }
        XCTAssertFalse(p.isRunning)
        XCTAssertEqual(p.terminationStatus, 0)
    }

    /// SIGTERM while a megabyte-long single word is being tokenized: the server still exits 0 within its
    /// grace period (10 s), the request ended one way or the other.
    func testSIGTERMDuringALongTokenizationExitsWithinTheGrace() throws {
        let (p, base) = try startServe(["--model", Self.serveDemo, "-t", "2"])
        defer { if p.isRunning { p.terminate() } }

        var request = URLRequest(url: URL(string: base + "/tokenize")!)
        request.httpMethod = "POST"
        request.httpBody = try JSONSerialization.data(withJSONObject: ["content": String(repeating: "a", count: (1 << 20) - 256)])
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { _, _, _ in done.signal() }.resume()
        usleep(300_000)  // the body sent, the word being tokenized
        kill(p.processIdentifier, SIGTERM)
        let sent = Date()
        while p.isRunning && Date().timeIntervalSince(sent) < 20 { usleep(20_000) }
        XCTAssertFalse(p.isRunning)
        XCTAssertLessThan(Date().timeIntervalSince(sent), 10.5)
        XCTAssertEqual(p.terminationStatus, 0)
        _ = done.wait(timeout: .now() + 10)
    }

    func testBadServeInputIsOneCleanError() throws {
        // Flags: swift-argument-parser's usage error (status 64), nothing on stdout.
        for (args, fragment) in [(["--model", "/no/such/model"], "no such file"),
                                 (["--model", Self.serveDemo, "--parallel", "0"], "--parallel"),
                                 (["--model", Self.serveDemo, "--port", "70000"], "--port")] {
            let r = try dolly(["serve"] + args)
            XCTAssertNotEqual(r.status, 0)
            XCTAssertEqual(r.stdout, "")
            XCTAssertTrue(r.stderr.contains(fragment), r.stderr)
        }
        // A file that is not a model: the server starts, fails to load it, says why and exits 1.
        let junk = try FixturePaths.temporaryDirectory().appendingPathComponent("junk.dolly")
        try Data("not a model".utf8).write(to: junk)
        let r = try dolly(["serve", "--model", junk.path, "--port", "0"], timeout: 30)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("dolly: error:"), r.stderr)
    }
}
