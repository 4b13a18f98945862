import Foundation
#if canImport(Glibc)
import Glibc
#endif
import XCTest

/// Issue 29 through the `dolly` executable (the signal, kill -9, full-disk and server cases need
/// timing and mounts: tools/ci/file_safety.sh).
extension CLITests {
    func testConvertRefusesItsOwnInputAndForeignFiles() throws {
        let src = try copyOfFixture("tiny-bin")
        let bin = src.appendingPathComponent("pytorch_model.bin")
        let before = try Data(contentsOf: bin)
        assertCleanFailure(try dolly(["convert", src.path, "-o", bin.path, "--quant", "q8"]), mentions: "it is the input")
        assertCleanFailure(try dolly(["convert", src.path, "-o", src.appendingPathComponent("m.dolly").path, "--quant", "q8"]),
                           mentions: "inside the input folder")
        let foreign = src.deletingLastPathComponent().appendingPathComponent("config-copy.json")
        try Data("{}".utf8).write(to: foreign)
        assertCleanFailure(try dolly(["convert", src.path, "-o", foreign.path, "--quant", "q8"]), mentions: "--force replaces it")
        XCTAssertEqual(try Data(contentsOf: foreign), Data("{}".utf8))
        XCTAssertEqual(try dolly(["convert", src.path, "-o", foreign.path, "--quant", "q8", "--force"]).status, 0)
        XCTAssertEqual(try Data(contentsOf: bin), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: src.path).sorted(),
                       try FileManager.default.contentsOfDirectory(atPath: FixturePaths.path("tiny-bin")).sorted())
    }

    func testImatrixRefusesToOverwriteItsCalibrationText() throws {
        let dir = try FixturePaths.temporaryDirectory("dolly-cli-imatrix-guard")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let text = dir.appendingPathComponent("calib.txt")
        try FileManager.default.copyItem(atPath: FixturePaths.path("imatrix_calibration.txt"), toPath: text.path)
        let before = try Data(contentsOf: text)
        assertCleanFailure(try dolly(["imatrix", "--model", FixturePaths.path("tiny-bin"), text.path, "-o", text.path]),
                           mentions: "it is the input")
        XCTAssertEqual(try Data(contentsOf: text), before)
    }

    /// A mapped model truncated under a running command: one line naming the file, status 1, no crash report.
    func testModelTruncatedUnderRunIsOneLineNotACrash() throws {
        let dir = try FixturePaths.temporaryDirectory("dolly-cli-sigbus")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.dolly").path
        XCTAssertEqual(try dolly(["convert", FixturePaths.path("tiny-bin"), "-o", path, "--quant", "q8"]).status, 0)
        let p = Process()
        p.executableURL = Self.binary
        p.arguments = ["run", "--model", path, "--raw", "--greedy", "--max-tokens", "250", "--context", "256", "Hello"]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        var text = Data()
        while text.isEmpty { text.append(out.fileHandleForReading.availableData) }
        XCTAssertEqual(Glibc.truncate(path, 4096), 0)
        p.waitUntilExit()
        _ = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(p.terminationReason, .exit, stderr)
        XCTAssertEqual(p.terminationStatus, 1, stderr)
        XCTAssertEqual(stderr, "dolly: error: \(path) changed on disk while in use (truncated or overwritten in place); stopping. "
                       + "Replace a model file by renaming a new file into place.\n")
    }
}
