import Foundation
import DollyKit
import XCTest

/// The `dolly` executable end to end: exact CLI spellings, stdout/stderr discipline, bad input.
final class CLITests: XCTestCase {
    struct Outcome {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// The `dolly` binary SwiftPM built next to the test bundle.
    static let binary: URL = {
        var dir = Bundle(for: CLITests.self).bundleURL
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("dolly").path) && dir.path != "/" {
            dir.deleteLastPathComponent()
        }
        return dir.appendingPathComponent("dolly")
    }()

    func dolly(_ args: [String], stdin: String? = nil, stdinBytes: [UInt8]? = nil, timeout: TimeInterval = 60) throws -> Outcome {
        let p = Process()
        p.executableURL = Self.binary
        p.arguments = args
        // Output goes to files, so a chatty child can never block on a full pipe.
        let dir = try FixturePaths.temporaryDirectory("dolly-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        let inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
        if let stdinBytes { inp.fileHandleForWriting.write(Data(stdinBytes)) }
        try inp.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        if p.isRunning {
            p.terminate()
            XCTFail("dolly \(args) hung for \(timeout) s")
        }
        p.waitUntilExit()
        try out.close()
        try err.close()
        return Outcome(status: p.terminationStatus, stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                       stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    /// A failure is exactly one `dolly: error:` line on stderr, nothing on stdout, non-zero status.
    func assertCleanFailure(_ r: Outcome, mentions fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.status, 0, file: file, line: line)
        XCTAssertEqual(r.stdout, "", file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "stderr: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("dolly: error: "), "stderr: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(fragment), "stderr lacks \"\(fragment)\": \(r.stderr)", file: file, line: line)
    }

    /// A copy of a fixture folder that a test may damage.
    func copyOfFixture(_ name: String) throws -> URL {
        let dir = try FixturePaths.temporaryDirectory()
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let dest = dir.appendingPathComponent(name)
        try FileManager.default.copyItem(at: FixturePaths.root.appendingPathComponent(name), to: dest)
        return dest
    }

    func truncate(_ url: URL, to fraction: Double) throws {
        let data = try Data(contentsOf: url)
        try data.prefix(Int(Double(data.count) * fraction)).write(to: url)
    }

    func testRawGreedyPrintsTransformersContinuation() throws {
        let ref = ReferenceModelTests.references["parallel"]!.prompts.first { $0.name == "raw_sentence" }!
        let r = try dolly(["run", "--model", FixturePaths.path("tiny-bin"), "--raw", "--greedy", "--max-tokens", "32",
                           "-t", "2", ref.text])
        XCTAssertEqual(r.status, 0, r.stderr)
        // The continuation (32 tokens, unless a stop token came first) followed by one newline.
        let text = DollyKitTestSupport.tokenizerDecode(ref.greedy_ids, stopAt: [0, 50277])
        XCTAssertEqual(r.stdout, text + "\n")
    }

    func testInstructionModePrintsOnlyTheResponse() throws {
        let r = try dolly(["run", "--model", FixturePaths.path("tiny-safetensors"), "--greedy", "--max-tokens", "8",
                           "What is the capital of France?"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stdout.contains("### Response"))
        XCTAssertFalse(r.stdout.contains("Below is an instruction"))
        XCTAssertTrue(r.stdout.hasSuffix("\n"))
        XCTAssertEqual(r.stderr, "")
    }

    func testTokenizePrintsIds() throws {
        let r = try dolly(["tokenize", "--model", FixturePaths.path("tiny-bin"), "Hello world  ### End"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "12092 1533 50276 50277\n")
    }

    func testChatAnswersEachLineUntilEOF() throws {
        let r = try dolly(["chat", "--model", FixturePaths.path("tiny-bin"), "--greedy", "--max-tokens", "4"],
                          stdin: "First question?\n\nSecond question?\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\n", omittingEmptySubsequences: false).count, 3, r.stdout)
    }

    func testTruncatedBinIsRefused() throws {
        let dir = try copyOfFixture("tiny-bin")
        try truncate(dir.appendingPathComponent("pytorch_model.bin"), to: 0.6)
        assertCleanFailure(try dolly(["run", "--model", dir.path, "hi"]), mentions: "pytorch_model.bin")
    }

    func testTruncatedSafetensorsIsRefused() throws {
        let dir = try copyOfFixture("tiny-safetensors")
        try truncate(dir.appendingPathComponent("model.safetensors"), to: 0.5)
        assertCleanFailure(try dolly(["run", "--model", dir.path, "hi"]), mentions: "model.safetensors")
    }

    func testPickleNamingAForeignGlobalIsRefused() throws {
        let dir = try copyOfFixture("tiny-bin")
        let bin = dir.appendingPathComponent("pytorch_model.bin")
        try FileManager.default.removeItem(at: bin)
        try FileManager.default.copyItem(atPath: FixturePaths.path("checkpoint/bad/os_system.bin"), toPath: bin.path)
        assertCleanFailure(try dolly(["run", "--model", dir.path, "hi"]), mentions: "system")
    }

    func testConfigMissingAKeyIsRefused() throws {
        let dir = try copyOfFixture("tiny-bin")
        let url = dir.appendingPathComponent("config.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        json.removeValue(forKey: "hidden_size")
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        assertCleanFailure(try dolly(["run", "--model", dir.path, "hi"]), mentions: "hidden_size")
    }

    func testTokenizerOfAnotherModelTypeIsRefused() throws {
        let dir = try copyOfFixture("tiny-bin")
        let url = dir.appendingPathComponent("tokenizer.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var model = json["model"] as! [String: Any]
        model["type"] = "Unigram"
        json["model"] = model
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        assertCleanFailure(try dolly(["run", "--model", dir.path, "hi"]), mentions: "Unigram")
    }

    func testPromptLongerThanContextIsRefused() throws {
        let r = try dolly(["run", "--model", FixturePaths.path("tiny-bin"), "--context", "16", "--raw",
                           String(repeating: "word ", count: 40)])
        assertCleanFailure(r, mentions: "context")
    }

    func testContextBeyondModelLimitIsRefused() throws {
        let r = try dolly(["run", "--model", FixturePaths.path("tiny-bin"), "--context", "100000", "hi"])
        assertCleanFailure(r, mentions: "max_position_embeddings")
    }

    func testMissingModelIsRefused() throws {
        assertCleanFailure(try dolly(["run", "--model", "/nonexistent/dolly", "hi"]), mentions: "/nonexistent/dolly")
    }

    func testConvertInspectVerifyAndRunTheFile() throws {
        let dir = try FixturePaths.temporaryDirectory("dolly-cli-convert")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("tiny.dolly").path
        let c = try dolly(["convert", FixturePaths.path("tiny-safetensors"), "-o", out, "--quant", "q8", "-t", "2"])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertEqual(c.stdout, "")
        XCTAssertTrue(c.stderr.contains("wrote \(out)"), c.stderr)
        let i = try dolly(["inspect", out, "--verify"])
        XCTAssertEqual(i.status, 0, i.stderr)
        XCTAssertTrue(i.stdout.contains("layers.1.mlp.down.weight"))
        XCTAssertTrue(i.stdout.contains("verify: all"), i.stdout)
        let t = try dolly(["tokenize", "--model", out, "Hello world  ### End"])
        XCTAssertEqual(t.stdout, "12092 1533 50276 50277\n")
        let r = try dolly(["run", "--model", out, "--raw", "--greedy", "--max-tokens", "4", "Hello"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stdout.isEmpty)
    }

    func testPerplexityAgainstAReferenceReportsDivergence() throws {
        let dir = try FixturePaths.temporaryDirectory("dolly-cli-kl")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let text = dir.appendingPathComponent("text.txt")
        let heldout = try String(contentsOf: FixturePaths.root.appendingPathComponent("heldout.txt"), encoding: .utf8)
        try String(heldout.prefix(1500)).write(to: text, atomically: true, encoding: .utf8)
        func figures(_ r: Outcome) -> [String: Double] {
            var out: [String: Double] = [:]
            for line in r.stdout.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                let number = parts.last!.split(separator: " ").first { Double($0.trimmingCharacters(in: CharacterSet(charactersIn: "%,"))) != nil }
                out[String(parts[0])] = number.flatMap { Double($0.trimmingCharacters(in: CharacterSet(charactersIn: "%,"))) }
            }
            return out
        }
        // The same weights in another container: no divergence at all.
        let same = try dolly(["perplexity", "--model", FixturePaths.path("tiny-safetensors"), "--reference", FixturePaths.path("tiny-bin"),
                              text.path, "--context", "64", "--kv", "f32"])
        XCTAssertEqual(same.status, 0, same.stderr)
        let s = figures(same)
        XCTAssertEqual(s["KL divergence"], 0, same.stdout)
        XCTAssertEqual(s["top-1 agreement"], 100, same.stdout)
        XCTAssertEqual(s["perplexity"], s["reference perplexity"], same.stdout)
        XCTAssertTrue(same.stdout.hasPrefix("reference perplexity:") && same.stdout.contains("\nperplexity:"), same.stdout)
        // A q8 file: small but non-zero divergence, perplexity on the last line as always.
        let q8 = dir.appendingPathComponent("tiny-q8.dolly").path
        XCTAssertEqual(try dolly(["convert", FixturePaths.path("tiny-bin"), "-o", q8, "--quant", "q8"]).status, 0)
        let r = try dolly(["perplexity", "--model", q8, "--reference", FixturePaths.path("tiny-bin"), text.path, "--context", "64"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let f = figures(r)
        XCTAssertGreaterThan(f["KL divergence"] ?? 0, 0, r.stdout)
        XCTAssertLessThan(f["KL divergence"] ?? 1, 1e-3, r.stdout)
        XCTAssertTrue(r.stdout.split(separator: "\n").last!.hasPrefix("perplexity:"), r.stdout)
        assertCleanFailure(try dolly(["perplexity", "--model", q8, "--reference", dir.appendingPathComponent("nope").path, text.path]),
                           mentions: "nope")
    }

    func testCompareReportsGreedyAgreement() throws {
        // The same weights in two containers: every answer identical.
        let same = try dolly(["compare", "--model", FixturePaths.path("tiny-safetensors"), "--reference", FixturePaths.path("tiny-bin"),
                              "--raw", "--max-tokens", "8", "Hello", "The capital of France is"])
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertEqual(same.stdout.split(separator: "\n").filter { $0.contains("\tidentical (8 tokens)\t") }.count, 2, same.stdout)
        XCTAssertTrue(same.stdout.hasSuffix("identical: 2/2\n"), same.stdout)
        // The demo's q8 file on instructions where it parts from f32 (at near-ties, see DemoQ8GreedyTests).
        let dir = try FixturePaths.temporaryDirectory("dolly-cli-compare")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let demo = FixturePaths.root.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("models/dolly-demo").path
        let q8 = dir.appendingPathComponent("demo-q8.dolly").path
        XCTAssertEqual(try dolly(["convert", demo, "-o", q8, "--quant", "q8"]).status, 0)
        let list = dir.appendingPathComponent("list.txt")
        try "What does the word \"ephemeral\" mean?\nExplain what a computer is.\nWhat is a noun?\n".write(to: list, atomically: true, encoding: .utf8)
        let r = try dolly(["compare", "--model", q8, "--reference", demo, "--instructions", list.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 4, r.stdout)
        for line in lines.dropLast() {
            let fields = line.split(separator: "\t")
            XCTAssertEqual(fields.count, 3, String(line))
            if fields[1].hasPrefix("diverges at token ") {
                let margin = Double(fields[1].split(separator: " ")[6])
                XCTAssertNotNil(margin, String(line))
                XCTAssertLessThan(margin ?? 1, 0.05, String(line))
            } else {
                XCTAssertTrue(fields[1].hasPrefix("identical ("), String(line))
            }
        }
        XCTAssertTrue(lines.last!.hasPrefix("identical: ") && lines.last!.hasSuffix("/3"), r.stdout)

        let none = try dolly(["compare", "--model", FixturePaths.path("tiny-bin"), "--reference", FixturePaths.path("tiny-bin")])
        XCTAssertNotEqual(none.status, 0)
        XCTAssertEqual(none.stdout, "")
        XCTAssertTrue(none.stderr.contains("--instructions"), none.stderr)
        assertCleanFailure(try dolly(["compare", "--model", FixturePaths.path("tiny-bin"), "--reference", "/nonexistent/model", "hi"]),
                           mentions: "/nonexistent/model")
    }

    func testConvertToUnwritablePathFailsCleanly() throws {
        assertCleanFailure(try dolly(["convert", FixturePaths.path("tiny-bin"), "-o", "/nonexistent-dir/x.dolly"]),
                           mentions: "cannot write /nonexistent-dir/x.dolly")
    }

    /// A full disk, simulated by a file-size limit: one error line and no file left behind.
    func testConvertIntoAFullDiskLeavesNoFile() throws {
        let dir = try FixturePaths.temporaryDirectory("dolly-cli-full")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        let out = dir.appendingPathComponent("x.dolly").path
        p.arguments = ["-c", "ulimit -f 1024; exec \"$0\" convert \"$1\" -o \"$2\" --quant q8 2>\"$3\"",
                       Self.binary.path, FixturePaths.path("tiny-bin"), out, dir.appendingPathComponent("err").path]
        try p.run()
        p.waitUntilExit()
        XCTAssertNotEqual(p.terminationStatus, 0)
        let err = try String(contentsOf: dir.appendingPathComponent("err"), encoding: .utf8)
        XCTAssertTrue(err.contains("dolly: error: cannot write \(out): File too large"), err)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["err"])
    }

    func testInspectOfANonDollyFileFailsCleanly() throws {
        assertCleanFailure(try dolly(["inspect", FixturePaths.path("tiny-bin/pytorch_model.bin")]), mentions: "not a .dolly file")
    }

    func testEmptyRawPromptIsRefused() throws {
        assertCleanFailure(try dolly(["run", "--model", FixturePaths.path("tiny-bin"), "--raw", ""]), mentions: "empty")
    }

    func testAbsurdThreadCountsAreRefused() throws {
        for t in [["-t", "0"], ["--threads=-3"], ["-t", "100000"]] {
            let r = try dolly(["run", "--model", FixturePaths.path("tiny-bin")] + t + ["hi"])
            XCTAssertNotEqual(r.status, 0, "\(t)")
            XCTAssertEqual(r.stdout, "", "\(t)")
            XCTAssertTrue(r.stderr.contains("--threads"), r.stderr)
        }
    }

    func testNonUTF8InputIsHandled() throws {
        // A text file that is not UTF-8: one clear error.
        let dir = try FixturePaths.temporaryDirectory("dolly-cli-bytes")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("bad.txt")
        try Data([0x61, 0x62, 0xFF, 0xFE, 0x20, 0x63, 0x0A]).write(to: file)
        assertCleanFailure(try dolly(["perplexity", "--model", FixturePaths.path("tiny-bin"), file.path]), mentions: "not UTF-8")
        // Invalid bytes on chat's stdin are replaced (U+FFFD), never a crash.
        let r = try dolly(["chat", "--model", FixturePaths.path("tiny-bin"), "--greedy", "--max-tokens", "3"],
                          stdinBytes: Array("Hello ".utf8) + [0xFF, 0xC3] + Array(" there\n".utf8))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasSuffix("\n"))
    }

    /// Ctrl-C during generation: the text so far stays on stdout, exit status 130.
    func testInterruptKeepsTheTextAndExits130() throws {
        let p = Process()
        p.executableURL = Self.binary
        p.arguments = ["run", "--model", FixturePaths.path("tiny-bin"), "--raw", "--greedy", "--max-tokens", "250",
                       "--context", "256", "Hello"]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Wait for the first generated text, then interrupt.
        let handle = out.fileHandleForReading
        var text = Data()
        while text.isEmpty { text.append(handle.availableData) }
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        text.append(handle.readDataToEndOfFile())
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(p.terminationStatus, 130, stderr)
        XCTAssertFalse(text.isEmpty)
        XCTAssertTrue(stderr.contains("interrupted"), stderr)
    }

    func testBadArgumentsExitNonZero() throws {
        let r = try dolly(["run", "--model", FixturePaths.path("tiny-bin"), "--top-p", "2", "hi"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.contains("--top-p"), r.stderr)
    }

    /// `--kv q8` runs end to end (run and bench -d); an unknown cache type is refused with the valid ones.
    func testQ8KVCacheFromTheCommandLine() throws {
        let demo = FixturePaths.root.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("models/dolly-demo").path
        let run = try dolly(["run", "--model", demo, "--kv", "q8", "--greedy", "--max-tokens", "16", "What is a cat?"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertFalse(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        let bench = try dolly(["bench", "--model", demo, "-p", "8", "-n", "4", "-d", "32", "--kv", "q8", "-r", "1", "-o", "json"])
        XCTAssertEqual(bench.status, 0, bench.stderr)
        let rows = try JSONSerialization.jsonObject(with: Data(bench.stdout.utf8)) as? [[String: Any]]
        XCTAssertEqual(rows?.count, 2)
        XCTAssertEqual(rows?.first?["n_depth"] as? Int, 32)
        XCTAssertEqual(rows?.first?["type_k"] as? String, "q8")
        let bad = try dolly(["run", "--model", demo, "--kv", "q4", "hi"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertEqual(bad.stdout, "")
        XCTAssertTrue(bad.stderr.contains("f16, f32 or q8"), bad.stderr)
    }
}

extension CLITests {
    static var demo: String {
        FixturePaths.root.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("models/dolly-demo").path
    }

    func testVersion() throws {
        let r = try dolly(["--version"])
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.stdout, "dolly \(DollyVersion.string)\n")
    }

    /// --input, --input-file, `run -` and chat's /input all reach the model card's prompt: the same
    /// answer as the library's GenerationRequest with that context.
    func testContextFromEveryEntryPointGivesTheSameAnswer() throws {
        let instruction = "Who is quoted in this text?"
        let context = "Three hours a day will produce as much as a man ought to write.\n\t\t-- Trollope"
        let model = PromptFidelityTests.demoModel
        var expected = ""
        try model.generate(GenerationRequest(text: instruction, context: context, maxNewTokens: 24, sampling: .greedyDecoding),
                           session: model.network.makeSession(contextLength: 256)) { expected += $0; return true }
        XCTAssertFalse(expected.isEmpty)
        let common = ["--model", Self.demo, "--greedy", "--max-tokens", "24"]
        let a = try dolly(["run"] + common + ["--input", context, instruction])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.stdout, expected + "\n")

        let dir = try FixturePaths.temporaryDirectory("dolly-cli-input")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("context.txt")
        try Data(context.utf8).write(to: file)
        let b = try dolly(["run"] + common + ["--input-file", file.path, instruction])
        XCTAssertEqual(b.stdout, expected + "\n", b.stderr)
        let c = try dolly(["run"] + common + ["--input-file", file.path, "-"], stdin: instruction + "\n")
        XCTAssertEqual(c.stdout, expected + "\n", c.stderr)

        // chat: a multi-line /input block, then an instruction continued with a backslash; /clear drops it.
        let chat = try dolly(["chat"] + common,
                             stdin: "/input\n\(context)\n/end\nWho is quoted \\\nin this text?\n/clear\nWho is quoted in this text?\n")
        XCTAssertEqual(chat.status, 0, chat.stderr)
        var plain = ""
        try model.generate(GenerationRequest(text: instruction, maxNewTokens: 24, sampling: .greedyDecoding),
                           session: model.network.makeSession(contextLength: 256)) { plain += $0; return true }
        XCTAssertNotEqual(plain, expected)
        let multiLine = instruction.replacingOccurrences(of: "quoted in", with: "quoted \nin")
        var continued = ""
        try model.generate(GenerationRequest(text: multiLine, context: context, maxNewTokens: 24, sampling: .greedyDecoding),
                           session: model.network.makeSession(contextLength: 256)) { continued += $0; return true }
        XCTAssertEqual(chat.stdout, continued + "\n" + plain + "\n")
        let chatFile = try dolly(["chat"] + common + ["--input-file", file.path], stdin: instruction + "\n")
        XCTAssertEqual(chatFile.stdout, expected + "\n", chatFile.stderr)
    }

    func testBadContextIsRefused() throws {
        assertCleanFailure(try dolly(["run", "--model", Self.demo, "--input-file", "/nonexistent/ctx.txt", "Summarize."]),
                           mentions: "no such file")
        let dir = try FixturePaths.temporaryDirectory("dolly-cli-ctx")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("latin1.txt")
        try Data([0x63, 0x61, 0x66, 0xE9, 0x0A]).write(to: bad)
        assertCleanFailure(try dolly(["run", "--model", Self.demo, "--input-file", bad.path, "Summarize."]), mentions: "not UTF-8")
        for args in [["--raw", "--input", "x", "hi"], ["--input", "x", "--input-file", bad.path, "hi"], ["--stop", "", "hi"],
                     ["--min-p", "2", "hi"], ["--repetition-penalty", "0", "hi"], ["--no-repeat-ngram", "-1", "hi"]] {
            let r = try dolly(["run", "--model", Self.demo] + args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertEqual(r.stdout, "", "\(args)")
        }
    }

    /// --stop ends the printed answer before the stop text; the sampling controls run end to end.
    func testStopAndSamplingControlsFromTheCommandLine() throws {
        let common = ["run", "--model", Self.demo, "--greedy", "--max-tokens", "32"]
        let full = try dolly(common + ["What does the word \"ephemeral\" mean?"])
        XCTAssertEqual(full.status, 0, full.stderr)
        let answer = full.stdout.trimmingCharacters(in: .newlines)
        let words = answer.split(separator: " ")
        XCTAssertGreaterThan(words.count, 3, answer)
        let stop = String(words[2].prefix(3))
        let cut = try dolly(common + ["--stop", stop, "What does the word \"ephemeral\" mean?"])
        XCTAssertEqual(cut.stdout, String(answer[..<answer.range(of: stop)!.lowerBound]).trimmingCharacters(in: .whitespaces) + "\n")
        let controls = try dolly(["run", "--model", Self.demo, "--seed", "3", "--max-tokens", "16", "--min-p", "0.05",
                                  "--repetition-penalty", "1.2", "--no-repeat-ngram", "3", "--top-k", "40", "Name a fruit."])
        XCTAssertEqual(controls.status, 0, controls.stderr)
        XCTAssertFalse(controls.stdout.isEmpty)
    }

    /// Closed choices are parsed as enums (bad values refused with the valid ones); library errors
    /// name values, and the command line adds the flag that sets them.
    func testEnumOptionsAndFlagHints() throws {
        for (args, fragment) in [(["convert", FixturePaths.path("tiny-bin"), "-o", "/tmp/x.dolly", "--quant", "q5"], "q4"),
                                 (["eval", "--model", Self.demo, "--task", "mmlu", "--data", "Tests/Fixtures/eval"], "hellaswag"),
                                 (["bench", "--model", Self.demo, "-o", "csv"], "json")] {
            let r = try dolly(args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertEqual(r.stdout, "", "\(args)")
            XCTAssertTrue(r.stderr.contains(fragment), "\(args): \(r.stderr)")
        }
        let env = ProcessInfo.processInfo.environment["DOLLY_EVAL_DATA"]
        if env == nil {
            assertCleanFailure(try dolly(["eval", "--model", Self.demo, "--task", "piqa"]), mentions: "--data")
        }
        let dir = try FixturePaths.temporaryDirectory("dolly-cli-short")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let short = dir.appendingPathComponent("short.txt")
        try Data("Only a few words.".utf8).write(to: short)
        assertCleanFailure(try dolly(["perplexity", "--model", Self.demo, short.path, "--context", "64"]),
                           mentions: "fewer than one scoring window of 64 (--context)")
        assertCleanFailure(try dolly(["run", "--model", FixturePaths.path("tiny-bin"), "--context", "16", "--raw",
                                      String(repeating: "word ", count: 40)]), mentions: "(--context)")
    }

    /// Ctrl-C in chat stops the answer being written and returns to the prompt; the next
    /// instruction is answered; end of input exits cleanly.
    func testChatInterruptReturnsToThePrompt() throws {
        let p = Process()
        p.executableURL = Self.binary
        p.arguments = ["chat", "--model", FixturePaths.path("tiny-bin"), "--greedy", "--max-tokens", "200", "--context", "256"]
        let inp = Pipe(), out = Pipe(), err = Pipe()
        p.standardInput = inp
        p.standardOutput = out
        p.standardError = err
        try p.run()
        inp.fileHandleForWriting.write(Data("Tell me a long story.\n".utf8))
        let handle = out.fileHandleForReading
        var text = Data()
        while text.isEmpty { text.append(handle.availableData) }
        kill(p.processIdentifier, SIGINT)
        usleep(300_000)
        XCTAssertTrue(p.isRunning, "one Ctrl-C must not end the chat")
        inp.fileHandleForWriting.write(Data("Hi?\n".utf8))
        try inp.fileHandleForWriting.close()
        p.waitUntilExit()
        text.append(handle.readDataToEndOfFile())
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(p.terminationStatus, 0, stderr)
        XCTAssertTrue(stderr.contains("(stopped)"), stderr)
        // The interrupted answer, then the whole answer to the next instruction.
        let model = try DollyModel.load(path: FixturePaths.path("tiny-bin"))
        var next = ""
        try model.generate(GenerationRequest(text: "Hi?", maxNewTokens: 200, sampling: .greedyDecoding),
                           session: model.network.makeSession(contextLength: 256)) { next += $0; return true }
        let shown = String(decoding: text, as: UTF8.self)
        XCTAssertTrue(shown.hasSuffix("\n" + next + "\n"), shown)
        XCTAssertGreaterThan(shown.count, next.count + 2)
    }
}

enum DollyKitTestSupport {
    static let tokenizer: DollyKit.Tokenizer = try! DollyKit.Tokenizer(
        contentsOf: FixturePaths.root.appendingPathComponent("tokenizer.json"))

    /// The text `dolly run --raw` prints for these ids: up to the first stop token.
    static func tokenizerDecode(_ ids: [Int32], stopAt stops: Set<Int32>) -> String {
        let cut = ids.firstIndex { stops.contains($0) } ?? ids.count
        return tokenizer.decode(Array(ids[..<cut]))
    }
}
