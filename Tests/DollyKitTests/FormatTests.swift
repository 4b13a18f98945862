import CSIMD
import DollyKit
import Foundation
import XCTest

/// The .dolly format: conversion, round trips, quantized paths against f32, and damaged files.
final class FormatTests: XCTestCase {
    /// Converted fixtures, made once per test process.
    static let converted: [QuantizationRecipe: String] = {
        let dir = try! FixturePaths.temporaryDirectory("dolly-format")
        var out: [QuantizationRecipe: String] = [:]
        for recipe in QuantizationRecipe.allCases {
            let path = dir.appendingPathComponent("tiny-\(recipe.rawValue).dolly").path
            _ = try! Converter(sourceDirectory: FixturePaths.path("tiny-bin"), recipe: recipe).convert(to: path)
            out[recipe] = path
        }
        return out
    }()

    func greedy(_ model: DollyModel, _ prompt: [Int32], _ n: Int = 32) throws -> [Int32] {
        let session = try model.network.makeSession(contextLength: 256)
        return try TokenGenerator(session: session).generate(prompt: prompt, maxNewTokens: n, sampling: .greedyDecoding,
                                                             stopTokens: []) { _ in true }.tokens
    }

    func testConvertedFileRoundTripsMetadataAndTokenizer() throws {
        let file = try DollyFile(path: Self.converted[.q4]!)
        let hf = try DollyModel.load(path: FixturePaths.path("tiny-bin"))
        XCTAssertEqual(file.config, hf.config)
        XCTAssertEqual(file.header.dataOffset % 4096, 0)
        for t in file.metadata.tensors { XCTAssertEqual(t.offset % 64, 0, t.name) }
        XCTAssertEqual(try file.tokenizerData(), try Data(contentsOf: FixturePaths.root.appendingPathComponent("tiny-bin/tokenizer.json")))
        XCTAssertEqual(file.metadata.quantization.recipe, "q4")
        XCTAssertEqual(try file.entry("layers.0.attention.qkv.weight").type, .q4nr16)
        XCTAssertEqual(file.header.minor, 1, "the grid types are format 1.1")
        for (recipe, type, minor) in [(QuantizationRecipe.q3, TensorType.q3nr16, 2), (.q4Uniform, .q4r16, 0), (.q8, .q8r16, 0)] {
            let f = try DollyFile(path: Self.converted[recipe]!)
            XCTAssertEqual(try f.entry("layers.0.mlp.up.weight").type, type, recipe.rawValue)
            XCTAssertEqual(f.header.minor, minor, "\(recipe.rawValue): a file with 1.0 types only stays readable by 1.0 readers")
        }
        XCTAssertEqual(try file.entry("embed_in").type, .q8)
        XCTAssertEqual(try file.entry("embed_out").type, .q8r16)
        XCTAssertNoThrow(try file.verify())
    }

    func testQ3FileOfFormat11IsRefused() throws {
        // 1.2 replaced q3nr16's tile layout: a 1.1 file's q3 tensors would decode to other weights.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.converted[.q3]!)))
        var header = try bytes.withUnsafeBytes { try FileHeader.decode($0, path: "q3") }
        header.minor = 1
        bytes.replaceSubrange(0..<FileHeader.size, with: header.encoded())
        let path = NSTemporaryDirectory() + "q3-format-1.1-\(getpid()).dolly"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try DollyFile(path: path)) { error in
            XCTAssertTrue("\(error.localizedDescription)".contains("convert the model again"), error.localizedDescription)
        }
    }

    func testF16FileMatchesHuggingFaceWeightsExactly() throws {
        // bf16 values widen exactly into f16's range here, so f16 logits equal the bf16 path's
        // up to rounding of the 16-bit mantissa change; the greedy text must be identical.
        let hf = try DollyModel.load(path: FixturePaths.path("tiny-bin"))
        let f16 = try DollyModel.load(path: Self.converted[.f16]!)
        for p in ReferenceModelTests.references["parallel"]!.prompts {
            XCTAssertEqual(try greedy(f16, p.input_ids), p.greedy_ids, p.name)
            _ = hf
        }
    }

    func testQKVSplitRowMapIsAPermutation() {
        let map = Converter.splitQKVRowMap(hidden: 64, heads: 4)
        XCTAssertEqual(Set(map).count, 192)
        XCTAssertEqual(map[0], 0)        // q of head 0
        XCTAssertEqual(map[16], 48)      // q of head 1 starts after head 0's q, k, v
        XCTAssertEqual(map[64], 16)      // k of head 0
        XCTAssertEqual(map[128], 32)     // v of head 0
    }

    /// Random-weight fixtures have near-ties everywhere (top-1 margins down to 0.002 in 192 greedy
    /// steps): even transformers with Q8-rounded weights keeps only 2 of the 6 greedy continuations
    /// (tools/analysis/quant_greedy_sim.py), as our q8 file does. So greedy agreement is checked on the trained
    /// demo model (DemoQ8GreedyTests); here the quantized logits must track transformers' closely.
    func testQuantizedLogitsTrackF32OnFixtures() throws {
        // Measured: q8 1.5%, q4 8.5%, q4-uniform 12%, q3 22% of max |logit| (hidden 32: each row is a single
        // block of Gaussian noise).
        for (recipe, bound) in [(QuantizationRecipe.q8, Float(0.02)), (.q4, Float(0.2)), (.q4Uniform, Float(0.2)), (.q3, Float(0.35))] {
            let model = try DollyModel.load(path: Self.converted[recipe]!)
            let session = try model.network.makeSession(contextLength: 256)
            var worst: Float = 0
            for p in ReferenceModelTests.references["parallel"]!.prompts {
                session.reset()
                try session.evaluate(p.input_ids)
                let expected = ReferenceModelTests.floats(p.last_logits_f32_b64)
                let err = zip(session.lastLogits, expected).map { abs($0 - $1) }.max()! / p.max_abs_logit
                worst = max(worst, err)
                XCTAssertLessThanOrEqual(err, bound, "\(recipe) \(p.name)")
            }
            print("\(recipe): worst last-position logit error \(worst) of max |logit|")
        }
    }

    // MARK: - Damaged files

    func copy(_ path: String) throws -> URL {
        let dir = try FixturePaths.temporaryDirectory("dolly-damaged")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.dolly")
        try FileManager.default.copyItem(atPath: path, toPath: url.path)
        return url
    }

    func patch(_ url: URL, at offset: Int, _ bytes: [UInt8]) throws {
        let h = try FileHandle(forUpdating: url)
        try h.seek(toOffset: UInt64(offset))
        h.write(Data(bytes))
        try h.close()
    }

    func assertFormatError(_ body: @autoclosure () throws -> Any, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try body()
            XCTFail("expected an error mentioning \(fragment)", file: file, line: line)
        } catch {
            XCTAssertTrue(error.localizedDescription.contains(fragment), "\(error.localizedDescription)", file: file, line: line)
        }
    }

    func testWrongMagicIsRefused() throws {
        let url = try copy(Self.converted[.q8]!)
        try patch(url, at: 0, Array("GGUF".utf8))
        assertFormatError(try DollyFile(path: url.path), "not a .dolly file")
    }

    func testFutureMajorVersionIsRefused() throws {
        let url = try copy(Self.converted[.q8]!)
        try patch(url, at: 8, [2, 0])
        assertFormatError(try DollyFile(path: url.path), "format version 2.0")
    }

    func testTruncatedFileIsRefused() throws {
        let url = try copy(Self.converted[.q8]!)
        let data = try Data(contentsOf: url)
        for cut in [4, 40, 100, data.count / 2, data.count - 1] {
            try data.prefix(cut).write(to: url)
            assertFormatError(try DollyFile(path: url.path), cut < 8 ? "not a .dolly file" : "truncated")
        }
    }

    func testCorruptedTensorFailsVerification() throws {
        let url = try copy(Self.converted[.q4]!)
        let file = try DollyFile(path: url.path)
        let t = try file.entry("layers.1.mlp.down.weight")
        let at = file.header.dataOffset + t.offset + 5
        try patch(url, at: at, [0xFF, 0x00, 0x55])
        let damaged = try DollyFile(path: url.path)   // opening doesn't read every byte...
        assertFormatError(try damaged.verify(), "layers.1.mlp.down.weight is corrupted")  // ...verify does
    }

    func testCorruptedMetadataIsRefused() throws {
        let url = try copy(Self.converted[.q4]!)
        try patch(url, at: FileHeader.size + 10, Array("XYZ".utf8))
        assertFormatError(try DollyFile(path: url.path), "checksum mismatch")
    }

    func testUnwritableOutputLeavesNothing() throws {
        let converter = Converter(sourceDirectory: FixturePaths.path("tiny-bin"), recipe: .q8)
        assertFormatError(try converter.convert(to: "/nonexistent-dir/out.dolly"), "cannot write /nonexistent-dir/out.dolly")
    }

    func testInterruptedConversionLeavesNothing() throws {
        let dir = try FixturePaths.temporaryDirectory("dolly-interrupt")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.dolly").path
        var calls = 0
        var converter = Converter(sourceDirectory: FixturePaths.path("tiny-bin"), recipe: .q4)
        converter.chunkBytes = 4096
        assertFormatError(try converter.convert(to: out, isCancelled: { calls += 1; return calls > 3 }), "interrupted")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    func testDamagedSourceIsRefusedNotConverted() throws {
        let dir = try FixturePaths.temporaryDirectory("dolly-damaged-src")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let src = dir.appendingPathComponent("tiny-bin")
        try FileManager.default.copyItem(atPath: FixturePaths.path("tiny-bin"), toPath: src.path)
        // Flip a byte in the middle of the weights: the zip entry's CRC-32 no longer matches.
        let bin = src.appendingPathComponent("pytorch_model.bin")
        let size = try Data(contentsOf: bin).count
        try patch(bin, at: size / 2, [0x5A])
        let out = dir.appendingPathComponent("out.dolly").path
        assertFormatError(try Converter(sourceDirectory: src.path, recipe: .q8).convert(to: out), "CRC")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    // MARK: - Block types

    func gaussian(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        return (0..<n).map { _ in
            let u = max(rng.nextUnit(), 1e-12), v = rng.nextUnit()
            return Float((-2 * log(u)).squareRoot() * cos(2 * .pi * v))
        }
    }

    func testQ8RoundTripWithinHalfAStep() {
        let x = gaussian(32 * 257, seed: 1)
        var blocks = [csimd_block_q8](repeating: csimd_block_q8(), count: x.count / 32)
        var y = [Float](repeating: 0, count: x.count)
        csimd_q8_quantize_ref(x, Int64(x.count), &blocks)
        csimd_q8_dequantize_ref(blocks, Int64(x.count), &y)
        for b in 0..<blocks.count {
            let d = csimd_f16_to_f32(blocks[b].d)
            for j in 0..<32 { XCTAssertLessThanOrEqual(abs(x[b * 32 + j] - y[b * 32 + j]), d / 2 * 1.001 + 1e-7) }
        }
    }

    func testQ4SearchedScaleBeatsAbsmax() {
        let x = gaussian(32 * 4096, seed: 2)
        var searched = [csimd_block_q4](repeating: csimd_block_q4(), count: x.count / 32)
        var absmax = searched
        var y = [Float](repeating: 0, count: x.count), z = y
        csimd_q4_quantize_ref(x, Int64(x.count), &searched)
        csimd_q4_quantize_absmax_ref(x, Int64(x.count), &absmax)
        csimd_q4_dequantize_ref(searched, Int64(x.count), &y)
        csimd_q4_dequantize_ref(absmax, Int64(x.count), &z)
        let e1 = zip(x, y).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
        let e2 = zip(x, z).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
        XCTAssertLessThan(e1, e2 * 0.9, "searched Q4 squared error \(e1) vs absmax \(e2)")
        // Within the clamp range every value is within half a step of its level.
        for b in 0..<searched.count {
            let d = abs(csimd_f16_to_f32(searched[b].d))
            for j in 0..<32 where abs(x[b * 32 + j]) <= 7 * d {
                XCTAssertLessThanOrEqual(abs(x[b * 32 + j] - y[b * 32 + j]), d / 2 * 1.001 + 1e-6)
            }
        }
    }
}

/// Quantized files of the trained demo model against its f32 path: top-1 agreement and KL on
/// held-out text (the random fixtures have no real predictions to agree on).
final class DemoQuantizationTests: XCTestCase {
    func testQuantizedFilesAgreeWithF32OnHeldOutText() throws {
        let root = FixturePaths.root.deletingLastPathComponent().deletingLastPathComponent()
        let demo = root.appendingPathComponent("models/dolly-demo").path
        let text = try String(contentsOf: FixturePaths.root.appendingPathComponent("heldout.txt"), encoding: .utf8)
        let reference = try DollyModel.load(path: demo)
        let tokens = Array(reference.tokenizer.encode(text).prefix(255))
        let vocab = reference.config.vocabSize
        func distributions(_ model: DollyModel) throws -> [[Float]] {
            let session = try model.network.makeSession(contextLength: 256, kvType: .f32)
            var rows: [[Float]] = []
            try session.evaluate(tokens, logits: .all { _, logits in
                for r in 0..<logits.count / vocab { rows.append(Array(logits[r * vocab..<(r + 1) * vocab])) }
            })
            return rows
        }
        /// The most likely id (through a buffer pointer: this runs 255 x 4 times over 50,280 logits in a debug build).
        func top1(_ row: [Float]) -> Int {
            row.withUnsafeBufferPointer { r in
                var best = 0
                for i in 1..<r.count where r[i] > r[best] { best = i }
                return best
            }
        }
        let f32 = try distributions(reference)
        let dir = try FixturePaths.temporaryDirectory("dolly-demo-quant")
        defer { try? FileManager.default.removeItem(at: dir) }
        // Measured (demo retrained 2026-11-29): q8 97.6% top-1, KL 6.2e-4; q4 92.2%, KL 4.7e-3; q4-uniform 92.2%,
        // KL 4.6e-3; q3 86.3%, KL 1.66e-2 (255 positions; the held-out comparison is BENCHMARKS.md's).
        for (recipe, minAgreement, maxKL) in [(QuantizationRecipe.q8, 0.97, 0.0012), (.q4, 0.90, 0.008), (.q4Uniform, 0.90, 0.008),
                                              (.q3, 0.84, 0.025)] {
            let path = dir.appendingPathComponent("demo-\(recipe.rawValue).dolly").path
            _ = try Converter(sourceDirectory: demo, recipe: recipe).convert(to: path)
            let q = try distributions(DollyModel.load(path: path))
            var agree = 0
            var kl = 0.0
            for (a, b) in zip(f32, q) {
                if top1(a) == top1(b) { agree += 1 }
                kl += KVCacheTests.kl(a, b)
            }
            let share = Double(agree) / Double(f32.count)
            kl /= Double(f32.count)
            print("demo \(recipe): top-1 agreement \(share), mean KL \(kl) over \(f32.count) positions")
            XCTAssertGreaterThanOrEqual(share, minAgreement, "\(recipe) top-1 agreement")
            XCTAssertLessThanOrEqual(kl, maxKL, "\(recipe) mean KL")
        }
    }
}

/// Greedy answers of the Q8 demo file against the f32 path on a fixed list of 20 instructions
/// (Tests/Fixtures/demo_instructions.txt, written before measuring, none removed).
final class DemoQ8GreedyTests: XCTestCase {
    func testQ8ChangesGreedyAnswersOnlyAtNearTies() throws {
        let root = FixturePaths.root.deletingLastPathComponent().deletingLastPathComponent()
        let demo = root.appendingPathComponent("models/dolly-demo").path
        let instructions = try String(contentsOf: FixturePaths.root.appendingPathComponent("demo_instructions.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let dir = try FixturePaths.temporaryDirectory("dolly-demo-q8")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("demo-q8.dolly").path
        _ = try Converter(sourceDirectory: demo, recipe: .q8).convert(to: path)
        let f32 = try DollyModel.load(path: demo), q8 = try DollyModel.load(path: path)
        let session = try q8.network.makeSession(contextLength: 256, kvType: .f32)
        let referenceSession = try f32.network.makeSession(contextLength: 256, kvType: .f32)
        var identical = 0
        var widestFlipped: Float = 0
        for text in instructions {
            let c = try q8.compareGreedy(with: f32, request: GenerationRequest(text: text, maxNewTokens: 64, sampling: .greedyDecoding),
                                         session: session, referenceSession: referenceSession)
            guard let margin = c.marginAtDivergence else { identical += 1; continue }
            widestFlipped = max(widestFlipped, margin)
            print("q8 diverges on \"\(text)\" at step \(c.divergence!): f32 top-1 margin \(margin), median \(c.medianReferenceMargin)")
        }
        print("demo q8: \(identical)/\(instructions.count) greedy answers identical to f32; widest flipped margin \(widestFlipped)")
        // Measured (demo retrained 2026-11-29): 18/20 identical; the 2 divergences start where f32's
        // top two logits are within 0.006 and 0.027 of each other (median margins 2.6 and 0.8).
        XCTAssertGreaterThanOrEqual(identical, 17)
        XCTAssertLessThan(widestFlipped, 0.05, "q8 changed a decision f32 was sure of")
    }
}

/// `perplexity` and `divergence` against transformers on the demo model (tools/fixtures/make_perplexity_reference.py).
final class DemoPerplexityTests: XCTestCase {
    struct Reference: Decodable { let text: String; let context: Int; let windows: Int; let scored_tokens: Int; let perplexity: Double }

    func testPerplexityMatchesTransformers() throws {
        let root = FixturePaths.root.deletingLastPathComponent().deletingLastPathComponent()
        let demo = root.appendingPathComponent("models/dolly-demo").path
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: FixturePaths.root.appendingPathComponent("perplexity_demo.json")))
        let text = try String(contentsOf: FixturePaths.root.appendingPathComponent(ref.text), encoding: .utf8)
        let model = try DollyModel.load(path: demo)
        let session = try model.network.makeSession(contextLength: ref.context, kvType: .f32)
        let result = try model.perplexity(text: text, context: ref.context, session: session)
        XCTAssertEqual(result.chunks, ref.windows)
        XCTAssertEqual(result.scoredTokens, ref.scored_tokens)
        XCTAssertEqual(result.perplexity, ref.perplexity, accuracy: ref.perplexity * 1e-5)
        // Against itself (the first windows): equal perplexities, no divergence beyond the f32
        // rounding of the stored reference log-probabilities.
        let head = String(text.prefix(2500))
        let other = try model.network.makeSession(contextLength: ref.context, kvType: .f32)
        let d = try model.divergence(from: model, text: head, context: ref.context, session: session, referenceSession: other)
        let alone = try model.perplexity(text: head, context: ref.context, session: session)
        XCTAssertEqual(d.perplexity.perplexity, alone.perplexity, accuracy: 1e-9)
        XCTAssertEqual(d.referencePerplexity, alone.perplexity, accuracy: 1e-9)
        XCTAssertEqual(d.meanKL, 0, accuracy: 1e-6)
        XCTAssertEqual(d.top1Agreement, 1)
    }
}
