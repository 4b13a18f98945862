import Foundation
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
}
