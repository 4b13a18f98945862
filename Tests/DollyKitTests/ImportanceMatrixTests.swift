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
    }

    static var model: DollyModel { PromptFidelityTests.demoModel }
    static var demoPath: String {
        FixturePaths.root.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("models/dolly-demo").path
    }

    func measured() throws -> (ImportanceMatrix, Reference) {
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: FixturePaths.path("imatrix_reference.json"))))
        let text = try String(contentsOfFile: FixturePaths.path("imatrix_calibration.txt"), encoding: .utf8)
        let matrix = try Self.model.importanceMatrix(text: text, calibrationName: "imatrix_calibration.txt",
                                                     context: reference.context, maxChunks: reference.chunks,
                                                     configCRC32: try DollyModel.configCRC32(modelPath: Self.demoPath))
        return (matrix, reference)
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
