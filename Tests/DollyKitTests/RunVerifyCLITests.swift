import Foundation
import XCTest

/// `dolly run --verify`: every tensor's checksum before the first token.
extension CLITests {
    func testRunVerifyChecksEveryTensorFirst() throws {
        let dir = try FixturePaths.temporaryDirectory("dolly-cli-verify")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.dolly").path
        XCTAssertEqual(try dolly(["convert", FixturePaths.path("tiny-bin"), "-o", path, "--quant", "q8"]).status, 0)
        let ok = try dolly(["run", "--model", path, "--verify", "--raw", "--greedy", "--max-tokens", "2", "Hello"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        // Damage the last tensor's bytes: opening does not notice, --verify does, before any text.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 3] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        assertCleanFailure(try dolly(["run", "--model", path, "--verify", "--raw", "--greedy", "--max-tokens", "2", "Hello"]),
                           mentions: "is corrupted (CRC-32 mismatch)")
    }
}
