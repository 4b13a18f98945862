import Foundation
import XCTest

/// `dolly inspect FILE.dolly-lora`: the facts a user needs before applying an adapter, and one clean
/// error for a damaged or hostile file.
extension CLITests {
    func convertLoRA(_ name: String, type: String = "f16", in dir: URL) throws -> String {
        let out = dir.appendingPathComponent("\(name)-\(type).dolly-lora").path
        let c = try dolly(["convert-lora", FixturePaths.path("lora/\(name)"), "--base", FixturePaths.path("tiny-safetensors"),
                           "--type", type, "-o", out])
        XCTAssertEqual(c.status, 0, c.stderr)
        return out
    }

    func testInspectAdapter() throws {
        let dir = try scratchDirectory("dolly-inspect-lora")
        let plain = try convertLoRA("plain", in: dir)
        let i = try dolly(["inspect", plain, "--verify"])
        XCTAssertEqual(i.status, 0, i.stderr)
        for line in ["format: dolly-lora 1.", ", created by dolly convert-lora\n",
                     "source: peft:plain adapter_model.safetensors crc32 ",
                     "base: hidden 32, layers 2, heads 2, intermediate 128 (query_key_value rows in the .dolly order)",
                     "lora: rank 4, alpha 8.0, scale 2.0\n",
                     "targets: query_key_value, dense, dense_h_to_4h, dense_4h_to_h",
                     "matrices: 8 adapted of 8", "  attention.qkv  layers 0-1", "  mlp.down       layers 0-1",
                     "storage: f16, A and B ", "tensors: 16", "layers.0.attention.qkv.lora_bt  f16   [4, 96]",
                     "verify: all 16 tensor checksums match"] {
            XCTAssertTrue(i.stdout.contains(line), "lacks \"\(line)\": \(i.stdout)")
        }
        // Per-module ranks and alphas (rank_pattern, alpha_pattern), and rsLoRA as recorded.
        let patterns = try dolly(["inspect", try convertLoRA("bin", type: "f32", in: dir)]).stdout
        XCTAssertTrue(patterns.contains("lora: rank 2-4 (largest 4), alpha 12.0, scale 0.75-6.0 per matrix\n"), patterns)
        XCTAssertTrue(patterns.contains("storage: f32, "), patterns)
        let rs = try dolly(["inspect", try convertLoRA("rslora", type: "q8", in: dir)]).stdout
        XCTAssertTrue(rs.contains("lora: rank 8, alpha 16.0, scale 5.656854 (rsLoRA: alpha / sqrt(r))\n"), rs)
        XCTAssertTrue(rs.contains("storage: q8, "), rs)

        // Damage: one byte of a tensor, a cut file, a header that lies: one clean error each.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: plain))
        let spoiled = dir.appendingPathComponent("spoiled.dolly-lora").path
        var flipped = bytes
        flipped[flipped.count - 3] ^= 0x40
        try flipped.write(to: URL(fileURLWithPath: spoiled))
        assertCleanFailure(try dolly(["inspect", spoiled]), mentions: "CRC-32 mismatch")
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: spoiled))
        assertCleanFailure(try dolly(["inspect", spoiled]), mentions: "damaged adapter file")
        try bytes.prefix(12).write(to: URL(fileURLWithPath: spoiled))
        assertCleanFailure(try dolly(["inspect", spoiled]), mentions: "damaged adapter file")
    }
}
