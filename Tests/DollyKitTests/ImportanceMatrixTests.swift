import XCTest
@testable import DollyKit

/// `dolly imatrix`'s statistic against transformers (forward hooks on the demo model's Linear modules,
/// tools/fixtures/make_imatrix_reference.py), its file (round trip, damage, another model), and the
/// converter using it.
final class ImportanceMatrixTests: XCTestCase {
    struct Reference: Decodable {
        let context: Int
        let chunks: Int
        let tokens: Int
        let columns: [String: [Double]]
        let covariance: Covariance

        /// Entries [i, k, value] of the mean of x xᵀ, each pair inside one band.
        struct Covariance: Decodable {
            let band: Int
            let probes: [String: [[Double]]]
        }
    }

    static var model: DollyModel { PromptFidelityTests.demoModel }
    static var demoPath: String {
        FixturePaths.root.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("models/dolly-demo").path
    }

    func measured(covariance: Bool = false) throws -> (ImportanceMatrix, Reference) {
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: FixturePaths.path("imatrix_reference.json"))))
        let text = try String(contentsOfFile: FixturePaths.path("imatrix_calibration.txt"), encoding: .utf8)
        let matrix = try Self.model.importanceMatrix(text: text, calibrationName: "imatrix_calibration.txt",
                                                     context: reference.context, maxChunks: reference.chunks,
                                                     covarianceBand: covariance ? reference.covariance.band : nil,
                                                     configCRC32: try DollyModel.configCRC32(modelPath: Self.demoPath))
        return (matrix, reference)
    }

    func testCovarianceMatchesTransformers() throws {
        let (matrix, reference) = try measured(covariance: true)
        let covariance = try XCTUnwrap(matrix.covariance)
        XCTAssertEqual(covariance.band, reference.covariance.band)
        XCTAssertEqual(Set(reference.covariance.probes.keys), Set(matrix.columns.keys))
        for (name, probes) in reference.covariance.probes {
            let bands = try XCTUnwrap(covariance.bands(of: name)), columns = try XCTUnwrap(matrix.columns[name])
            let band = covariance.band, scale = Double(columns.max() ?? 1)
            for p in probes {
                let i = Int(p[0]), k = Int(p[1]), b0 = i / band * band, width = min(band, columns.count - b0)
                let got = Double(bands[b0 * band + (i - b0) * width + (k - b0)])  // earlier bands are full
                XCTAssertEqual(got, p[2], accuracy: 1e-4 * scale + 1e-4 * abs(p[2]), "\(name)[\(i), \(k)]")
            }
            // Its diagonal is the importance matrix.
            for j in stride(from: 0, to: columns.count, by: 7) {
                let b0 = j / band * band, width = min(band, columns.count - b0)
                XCTAssertEqual(bands[b0 * band + (j - b0) * (width + 1)], columns[j], accuracy: 1e-5 * Float(scale), "\(name)[\(j), \(j)]")
            }
        }
    }

    func testCovarianceFileRoundTripMappedAndDamage() throws {
        let (matrix, _) = try measured(covariance: true)
        let data = try matrix.encoded()
        let decoded = try ImportanceMatrix(data: data)
        XCTAssertEqual(decoded, matrix)
        XCTAssertNotNil(decoded.covariance)
        let dir = try FixturePaths.temporaryDirectory("dolly-covariance")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("c.imatrix").path
        try matrix.write(to: path)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), data, "streamed and in-memory encodings agree")
        XCTAssertEqual(try ImportanceMatrix(contentsOf: path), matrix, "read in place from the mapping")
        // A flipped bit in the covariance, the last value cut, a version that does not match its content.
        var flipped = data
        flipped[data.count - 100] ^= 0x01
        XCTAssertThrowsError(try ImportanceMatrix(data: flipped))
        XCTAssertThrowsError(try ImportanceMatrix(data: data.prefix(data.count - 8) + data.suffix(4)))
        var v1 = data
        let at = try XCTUnwrap(v1.range(of: Data("\"version\":2".utf8)))
        v1[at.upperBound - 1] = UInt8(ascii: "1")
        let crc = v1.prefix(v1.count - 4).withUnsafeBytes { CRC32.checksum($0) }
        v1.replaceSubrange(v1.count - 4..<v1.count, with: withUnsafeBytes(of: crc.littleEndian) { Data($0) })
        XCTAssertThrowsError(try ImportanceMatrix(data: v1)) { XCTAssertTrue("\($0)".contains("version"), "\($0)") }
        // Measuring refuses a band that no block fits.
        let text = try String(contentsOfFile: FixturePaths.path("imatrix_calibration.txt"), encoding: .utf8)
        XCTAssertThrowsError(try Self.model.importanceMatrix(text: text, calibrationName: "x", context: 48, covarianceBand: 40,
                                                             configCRC32: "00000000")) {
            XCTAssertEqual($0 as? ImportanceMatrixError, .invalidBand(40))
        }
    }

    /// The fuzz seed was written from docs/FORMAT.md section 8 by a few lines of Python, not by our
    /// writer: our reader takes it, and its band factors.
    func testSpecWrittenFileReads() throws {
        let m = try ImportanceMatrix(contentsOf: FixturePaths.path("fuzz/tiny-v2.imatrix"))
        let c = try XCTUnwrap(m.covariance)
        XCTAssertEqual(c.band, 32)
        let name = "layers.0.attention.qkv.weight"
        XCTAssertEqual(m.columns[name]?.count, 32)
        XCTAssertEqual(try XCTUnwrap(c.bands(of: name))[33], m.columns[name]![1], "the band's diagonal is the mean square")
        XCTAssertEqual(try c.factor(of: name).count, 32 * 32)
    }

    /// The point of the covariance: on the demo, q4 and q3 files fitted with it are closer to the
    /// unquantized model (KL on held-out text; calibration on other text) than the default fit.
    func testCompensatedFitLowersKL() throws {
        let calibration = try String(contentsOfFile: FixturePaths.path("perplexity_demo.txt"), encoding: .utf8)
        let matrix = try Self.model.importanceMatrix(text: calibration, calibrationName: "perplexity_demo.txt", context: 128,
                                                     covarianceBand: InputCovariance.defaultBand,
                                                     configCRC32: try DollyModel.configCRC32(modelPath: Self.demoPath))
        let heldout = try String(contentsOfFile: FixturePaths.path("heldout.txt"), encoding: .utf8)
        let tokens = Self.model.tokenizer.encode(heldout)
        let text = Self.model.tokenizer.decode(Array(tokens.prefix(4 * 128 + 1)))
        let dir = try FixturePaths.temporaryDirectory("dolly-compensated")
        defer { try? FileManager.default.removeItem(at: dir) }
        let reference = try DollyModel.load(path: Self.demoPath)
        for recipe in [QuantizationRecipe.q4, .q3] {
            var kl: [Double] = []
            for withCovariance in [false, true] {
                var converter = Converter(sourceDirectory: Self.demoPath, recipe: recipe)
                converter.importance = withCovariance ? matrix : nil
                let path = dir.appendingPathComponent("\(recipe.rawValue)-\(withCovariance).dolly").path
                _ = try converter.convert(to: path)
                let file = try DollyFile(path: path)
                XCTAssertEqual(file.metadata.quantization.fit, withCovariance ? "compensated" : nil)
                let model = try DollyModel.load(path: path)
                let r = try model.divergence(from: reference, text: text, context: 128,
                                             session: try model.network.makeSession(contextLength: 128, kvType: .f32),
                                             referenceSession: try reference.network.makeSession(contextLength: 128, kvType: .f32))
                kl.append(r.meanKL)
            }
            print("demo \(recipe.rawValue): KL default fit \(kl[0]), compensated \(kl[1])")
            XCTAssertLessThan(kl[1], 0.85 * kl[0], "\(recipe.rawValue)")
        }
    }

    func testStatisticMatchesTransformers() throws {
        let (matrix, reference) = try measured()
        XCTAssertEqual(matrix.calibration.tokens, reference.tokens)
        XCTAssertEqual(Set(matrix.columns.keys), Set(reference.columns.keys))
        for (name, expected) in reference.columns {
            let got = try XCTUnwrap(matrix.columns[name])
            XCTAssertEqual(got.count, expected.count, name)
            let scale = expected.max() ?? 1
            for j in 0..<expected.count where abs(Double(got[j]) - expected[j]) > 1e-4 * scale + 1e-4 * expected[j] {
                XCTFail("\(name)[\(j)]: \(got[j]) vs transformers \(expected[j])")
                break
            }
        }
    }

    func testFileRoundTripAndDamage() throws {
        let (matrix, _) = try measured()
        let data = try matrix.encoded()
        XCTAssertEqual(try ImportanceMatrix(data: data), matrix)
        var flipped = data
        flipped[flipped.count / 2] ^= 0x10
        XCTAssertThrowsError(try ImportanceMatrix(data: flipped))
        XCTAssertThrowsError(try ImportanceMatrix(data: data.prefix(data.count - 9)))
        XCTAssertThrowsError(try ImportanceMatrix(data: Data("DLYIMTX1".utf8)))
        XCTAssertThrowsError(try ImportanceMatrix(data: Data()))
        // Another model (other sizes, another config.json) is refused before any work.
        let tiny = try ModelConfig.load(from: FixturePaths.root.appendingPathComponent("tiny-bin/config.json"))
        XCTAssertThrowsError(try matrix.check(against: tiny, configCRC32: "00000000")) {
            guard case ImportanceMatrixError.wrongModel = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertNoThrow(try matrix.check(against: Self.model.config, configCRC32: matrix.identity.configCRC32))
    }

    /// A covariance the converter cannot factor (here a NaN in one band, as a buggy writer could leave
    /// with a valid CRC) stops the conversion with one error naming the tensor, and leaves no file.
    func testUnfactorableCovarianceStopsTheConversion() throws {
        let (matrix, _) = try measured(covariance: true)
        let name = FileTensorName.layer(2, LayerTensor.mlpDown.fileSuffix)
        let bands = try XCTUnwrap(matrix.covariance?.bands(of: name))
        UnsafeMutablePointer(mutating: bands.baseAddress!)[5] = .nan
        let dir = try FixturePaths.temporaryDirectory("dolly-nan-covariance")
        defer { try? FileManager.default.removeItem(at: dir) }
        var converter = Converter(sourceDirectory: Self.demoPath, recipe: .q3)
        converter.importance = matrix
        let out = dir.appendingPathComponent("q3.dolly").path
        XCTAssertThrowsError(try converter.convert(to: out)) {
            XCTAssertEqual($0 as? ImportanceMatrixError, .malformed("the input covariance of \(name) is not positive definite"))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "no output, no temporary file")
    }

    func testConverterRecordsAndUsesIt() throws {
        let (matrix, _) = try measured()
        let dir = try FixturePaths.temporaryDirectory("dolly-imatrix")
        defer { try? FileManager.default.removeItem(at: dir) }
        var converter = Converter(sourceDirectory: Self.demoPath, recipe: .q4)
        converter.importance = matrix
        let withMatrix = dir.appendingPathComponent("i.dolly").path
        _ = try converter.convert(to: withMatrix)
        converter.importance = nil
        converter.weighting = .uniform
        let plain = dir.appendingPathComponent("u.dolly").path
        _ = try converter.convert(to: plain)
        let a = try DollyFile(path: withMatrix), b = try DollyFile(path: plain)
        XCTAssertEqual(a.metadata.quantization.imatrix, matrix.calibration)
        XCTAssertNil(b.metadata.quantization.imatrix)
        XCTAssertNil(b.metadata.quantization.weighting, "uniform without a matrix writes what files before 1.1 held")
        let name = FileTensorName.layer(0, LayerTensor.mlpDown.fileSuffix)
        let ta = try XCTUnwrap(a.metadata.tensors.first { $0.name == name }), tb = try XCTUnwrap(b.metadata.tensors.first { $0.name == name })
        XCTAssertNotEqual(ta.crc32, tb.crc32, "the importance changes the Q4 fit")
        // Both run.
        let m = try DollyModel.load(path: withMatrix)
        let session = try m.network.makeSession(contextLength: 64)
        let r = try m.generate(GenerationRequest(text: "Say hello.", maxNewTokens: 8, sampling: .greedyDecoding), session: session) { _ in true }
        XCTAssertFalse(r.tokens.isEmpty)
    }
}
