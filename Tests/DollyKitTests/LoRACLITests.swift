import Foundation
import XCTest
import DollyKit

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
        XCTAssertTrue(m.stderr.contains("applying LoRA plain (r 4, alpha 8.0, scale 1.0, ") && m.stderr.contains("at run time"), m.stderr)
        XCTAssertEqual(try dolly(["convert", base, "--lora", adapter, "--imatrix", imatrix, "-o", out, "-t", "2"]).status, 0)
        // Not with another adapter, another scale, or none: calibration saw another model.
        let other = dir.appendingPathComponent("other.dolly").path
        assertCleanFailure(try dolly(["convert", base, "--imatrix", imatrix, "-o", other]), mentions: "merges none")
        assertCleanFailure(try dolly(["convert", base, "--lora", adapter, "--lora-scale", "2", "--imatrix", imatrix, "-o", other]),
                           mentions: "scale 2.0")
        XCTAssertFalse(FileManager.default.fileExists(atPath: other))

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

    /// `dolly convert-lora ADAPTER -o FILE` as the issue spells it: the base's shape from --base, or from
    /// the published Dolly v2 the adapter names; any other name without --base is one clear error.
    func testConvertLoRAWithAndWithoutBase() throws {
        let dir = try FixturePaths.temporaryDirectory("dolly-convert-lora")
        defer { try? FileManager.default.removeItem(at: dir) }
        let adapter = FixturePaths.path("lora/plain")
        let out = dir.appendingPathComponent("plain.dolly-lora").path
        assertCleanFailure(try dolly(["convert-lora", adapter, "-o", out]), mentions: "is not a published Dolly v2")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let c = try dolly(["convert-lora", adapter, "--base", FixturePaths.path("tiny-safetensors"), "-o", out])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertTrue(c.stderr.contains("wrote \(out)"), c.stderr)
        for (name, hidden) in [("databricks/dolly-v2-3b", 2560), ("/models/dolly-v2-12b/", 5120), ("Dolly-v2-7B", 4096)] {
            XCTAssertEqual(ModelConfig.publishedDolly(named: name)?.hiddenSize, hidden, name)
        }
        XCTAssertEqual(ModelConfig.publishedDolly(named: "databricks/dolly-v2-12b")?.numAttentionHeads, 40)
        XCTAssertNil(ModelConfig.publishedDolly(named: "EleutherAI/pythia-2.8b"))
    }

    /// `dolly bench --lora F --lora-vs-base`: each test on the base and with the adapter, alternating in
    /// one process, and the ratio printed; without --lora, one clear error.
    func testBenchLoRAVsBase() throws {
        let dir = try FixturePaths.temporaryDirectory("dolly-bench-lora")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = FixturePaths.path("tiny-safetensors")
        let model = dir.appendingPathComponent("tiny.dolly").path, adapter = dir.appendingPathComponent("plain.dolly-lora").path
        XCTAssertEqual(try dolly(["convert", base, "-o", model, "--quant", "f32"]).status, 0)
        XCTAssertEqual(try dolly(["convert-lora", FixturePaths.path("lora/plain"), "--base", base, "-o", adapter]).status, 0)
        let md = try dolly(["bench", "--model", model, "-p", "8", "-n", "4", "-r", "2", "--lora", adapter, "--lora-vs-base"])
        XCTAssertEqual(md.status, 0, md.stderr)
        for fragment in ["| pp8 |", "| pp8 +lora r4 |", "| tg4 |", "| tg4 +lora r4 |", "pp8 with the adapter / the base alone: ",
                         "tg4 with the adapter / the base alone: "] {
            XCTAssertTrue(md.stdout.contains(fragment), fragment + "\n" + md.stdout)
        }
        let json = try dolly(["bench", "--model", model, "-p", "8", "-n", "0", "-r", "3", "--lora", adapter, "--lora-vs-base", "-o", "json"])
        let rows = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(rows.map { $0["lora_rank"] as? Int }, [0, 4])
        XCTAssertEqual(rows.map { ($0["samples_ts"] as? [Double])?.count }, [3, 3])
        let bare = try dolly(["bench", "--model", model, "--lora-vs-base"])  // a usage error, as ArgumentParser prints it
        XCTAssertNotEqual(bare.status, 0)
        XCTAssertTrue(bare.stderr.contains("--lora-vs-base needs --lora FILE"), bare.stderr)
        XCTAssertEqual(bare.stdout, "")
    }

    /// `bench --parallel N`: N streams per pass, each on its own adapter in turn, base and adapters back to back.
    func testBenchParallelStreamsOnSeveralAdapters() throws {
        let dir = try FixturePaths.temporaryDirectory("dolly-bench-streams")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = FixturePaths.path("tiny-safetensors")
        let model = dir.appendingPathComponent("tiny.dolly").path
        XCTAssertEqual(try dolly(["convert", base, "-o", model, "--quant", "f32"]).status, 0)
        var adapters: [String] = []
        for name in ["plain", "rslora"] {
            let out = dir.appendingPathComponent("\(name).dolly-lora").path
            XCTAssertEqual(try dolly(["convert-lora", FixturePaths.path("lora/\(name)"), "--base", base, "-o", out]).status, 0)
            adapters += ["--lora", out]
        }
        let md = try dolly(["bench", "--model", model, "-p", "6", "-n", "3", "-r", "2", "--parallel", "3", "--lora-vs-base"] + adapters)
        XCTAssertEqual(md.status, 0, md.stderr)
        for fragment in ["| pp6 x3 |", "| pp6 x3 +2 loras r", "| tg3 x3 |", "| tg3 x3 +2 loras r",
                         "tg3 x3 with the adapters / the base alone: "] {
            XCTAssertTrue(md.stdout.contains(fragment), fragment + "\n" + md.stdout)
        }
        let json = try dolly(["bench", "--model", model, "-p", "0", "-n", "2", "-r", "2", "--parallel", "2", "-o", "json"])
        let rows = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(rows.map { $0["n_parallel"] as? Int }, [2])
        XCTAssertEqual(rows.map { ($0["samples_ts"] as? [Double])?.count }, [2])
        let several = try dolly(["bench", "--model", model] + adapters)  // several adapters, one stream
        XCTAssertNotEqual(several.status, 0)
        XCTAssertTrue(several.stderr.contains("several --lora need --parallel N"), several.stderr)
    }
}
