import Foundation
import XCTest

/// `dolly convert --lora`, `dolly imatrix --lora` and `dolly inspect` as users run them, and clean refusals.
extension CLITests {
    func testConvertWithLoRA() throws {
        let dir = try FixturePaths.temporaryDirectory("dolly-lora-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = FixturePaths.path("tiny-safetensors"), adapter = FixturePaths.path("lora/plain")
        let out = dir.appendingPathComponent("mine.dolly").path
        let c = try dolly(["convert", base, "--lora", adapter, "--lora-scale", "0.5", "-o", out, "--quant", "q8", "-t", "2"])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertTrue(c.stderr.contains("merged LoRA plain (r 4, alpha 8.0, scale 0.5, query_key_value/dense/dense_h_to_4h/dense_4h_to_h"), c.stderr)
        let i = try dolly(["inspect", out])
        XCTAssertTrue(i.stdout.contains("lora: plain (adapter_model.safetensors, identity "), i.stdout)
        XCTAssertTrue(i.stdout.contains("merged: r 4, alpha 8.0, scale 0.5, targets query_key_value, dense, dense_h_to_4h, dense_4h_to_h, base Tests/Fixtures/tiny-safetensors"), i.stdout)

        // The calibration of the merged model, then a conversion with it.
        let imatrix = dir.appendingPathComponent("mine.imatrix").path
        let m = try dolly(["imatrix", "--model", base, "--lora", adapter, FixturePaths.path("imatrix_calibration.txt"), "-o", imatrix,
                           "--context", "32", "-t", "2"])
        XCTAssertEqual(m.status, 0, m.stderr)
        XCTAssertTrue(m.stderr.contains("merged LoRA plain"), m.stderr)
        XCTAssertEqual(try dolly(["convert", base, "--lora", adapter, "--imatrix", imatrix, "-o", out, "-t", "2"]).status, 0)

        // A bad adapter: one clean error naming the field, and the existing output untouched.
        let before = try Data(contentsOf: URL(fileURLWithPath: out))
        let bad = dir.appendingPathComponent("dora")
        try FileManager.default.copyItem(atPath: adapter, toPath: bad.path)
        let config = bad.appendingPathComponent("adapter_config.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: config)) as! [String: Any]
        json["use_dora"] = true
        try JSONSerialization.data(withJSONObject: json).write(to: config)
        assertCleanFailure(try dolly(["convert", base, "--lora", bad.path, "-o", out]), mentions: "use_dora")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), before)
        let fresh = dir.appendingPathComponent("fresh.dolly").path
        assertCleanFailure(try dolly(["convert", base, "--lora", dir.appendingPathComponent("nowhere").path, "-o", fresh]),
                           mentions: "does not exist")
        XCTAssertFalse(FileManager.default.fileExists(atPath: fresh))
        // An adapter for another shape of model.
        assertCleanFailure(try dolly(["convert", FixturePaths.path("tiny-sequential"), "--lora", adapter, "-o", fresh]), mentions: "layers.2")
        // The output may not go inside the adapter folder.
        assertCleanFailure(try dolly(["convert", base, "--lora", bad.path, "-o", bad.appendingPathComponent("x.dolly").path]),
                           mentions: "inside")
        XCTAssertNotEqual(try dolly(["convert", base, "--lora-scale", "2", "-o", fresh]).status, 0, "--lora-scale needs --lora")
    }
}
