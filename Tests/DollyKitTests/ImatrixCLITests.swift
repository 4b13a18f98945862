import Foundation
import XCTest

/// `dolly imatrix` then `dolly convert --imatrix` as users run them, and the clean refusals.
extension CLITests {
    func testImatrixThenConvert() throws {
        let demo = FixturePaths.root.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("models/dolly-demo").path
        let dir = try FixturePaths.temporaryDirectory("dolly-imatrix-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let imatrix = dir.appendingPathComponent("demo.imatrix").path, out = dir.appendingPathComponent("q4.dolly").path
        let m = try dolly(["imatrix", "--model", demo, FixturePaths.path("imatrix_calibration.txt"), "-o", imatrix,
                           "--context", "48"])
        XCTAssertEqual(m.status, 0, m.stderr)
        XCTAssertEqual(m.stdout, "")
        XCTAssertTrue(m.stderr.contains("wrote \(imatrix): 24 matrices, 3 chunks of 48 tokens"), m.stderr)
        let c = try dolly(["convert", demo, "-o", out, "--imatrix", imatrix])
        XCTAssertEqual(c.status, 0, c.stderr)
        let i = try dolly(["inspect", out])
        XCTAssertTrue(i.stdout.contains("block fit: error-compensated (GPTQ), weighting uniform, input covariances from imatrix_calibration.txt"), i.stdout)
        // --diagonal: llama-imatrix's statistic only, a file of a few KB, blocks weighted by it.
        let diagonal = dir.appendingPathComponent("diag.imatrix").path
        let d = try dolly(["imatrix", "--model", demo, FixturePaths.path("imatrix_calibration.txt"), "-o", diagonal,
                           "--context", "48", "--diagonal"])
        XCTAssertEqual(d.status, 0, d.stderr)
        XCTAssertLessThan(try XCTUnwrap(FileManager.default.attributesOfItem(atPath: diagonal)[.size] as? Int), 64 << 10)
        XCTAssertEqual(try dolly(["convert", demo, "-o", out, "--imatrix", diagonal]).status, 0)
        XCTAssertTrue(try dolly(["inspect", out]).stdout.contains("block fit: weighting magnitude, importance matrix from imatrix_calibration.txt"))
        // A band that is not a multiple of 32: a usage error before any work, no file.
        let badBand = dir.appendingPathComponent("band.imatrix").path
        let b = try dolly(["imatrix", "--model", demo, FixturePaths.path("imatrix_calibration.txt"), "-o", badBand, "--band", "100"])
        XCTAssertNotEqual(b.status, 0)
        XCTAssertTrue(b.stderr.contains("--band must be a positive multiple of 32"), b.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: badBand))

        // Another model's matrix: one clean error, no output file.
        let other = dir.appendingPathComponent("other.dolly").path
        assertCleanFailure(try dolly(["convert", FixturePaths.path("tiny-bin"), "-o", other, "--imatrix", imatrix]),
                           mentions: "another model")
        XCTAssertFalse(FileManager.default.fileExists(atPath: other))
        // Too little text, a missing file.
        assertCleanFailure(try dolly(["imatrix", "--model", demo, FixturePaths.path("imatrix_calibration.txt"), "-o",
                                      dir.appendingPathComponent("x").path, "--context", "4096"]), mentions: "tokens")
        assertCleanFailure(try dolly(["convert", demo, "-o", other, "--imatrix", "/no/such.imatrix"]), mentions: "missing")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("x").path))
    }
}
