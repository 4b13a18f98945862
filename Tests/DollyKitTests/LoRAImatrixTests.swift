import DollyKit
import Foundation
import XCTest

/// `dolly imatrix --lora` applies the adapter at run time: the statistics must be those of the model
/// merged with it (the f32 file `convert --lora --quant f32` writes), up to float rounding.
final class LoRAImatrixTests: XCTestCase {
    func measure(_ model: DollyModel, adapter: LoRAAdapter? = nil) throws -> ImportanceMatrix {
        let text = try String(contentsOfFile: FixturePaths.path("imatrix_calibration.txt"), encoding: .utf8)
        return try model.importanceMatrix(text: text, calibrationName: "imatrix_calibration.txt", context: 32, maxChunks: 4,
                                          covarianceBand: 32, adapter: adapter, threads: 2, configCRC32: "00000000")
    }

    /// Largest |a - b| over every column statistic and covariance entry, relative to b's largest of that tensor.
    func worstRelative(_ a: ImportanceMatrix, _ b: ImportanceMatrix) throws -> Float {
        XCTAssertEqual(Set(a.columns.keys), Set(b.columns.keys))
        var worst: Float = 0
        for (name, expected) in b.columns {
            let got = try XCTUnwrap(a.columns[name]), scale = expected.map(abs).max() ?? 1
            for (x, y) in zip(got, expected) { worst = max(worst, abs(x - y) / scale) }
            let gotBands = try XCTUnwrap(a.covariance?.bands(of: name)), bands = try XCTUnwrap(b.covariance?.bands(of: name))
            XCTAssertEqual(gotBands.count, bands.count)
            let bandScale = bands.map(abs).max() ?? 1
            for (x, y) in zip(gotBands, bands) { worst = max(worst, abs(x - y) / bandScale) }
        }
        return worst
    }

    func testRuntimeAdapterMeasuresTheMergedModel() throws {
        let dir = try scratchDirectory("lora-imatrix")
        // A scale other than 1: --lora-scale must reach the run-time adapter as it reaches the merge.
        let merge = try LoRAMerge(adapter: PEFTAdapter(folder: LoRAFixtures.adapter("plain"), config: LoRAFixtures.baseConfig), scale: 0.5)
        let merged = try measure(DollyModel.load(path: LoRAMergeTests.convert("plain", recipe: .f32, scale: 0.5, to: dir)))
        let fileBase = try DollyModel.load(path: LoRAMergeTests.convert(nil, recipe: .f32, to: dir))
        let baseAlone = try worstRelative(measure(fileBase), merged)
        // A .dolly file's split query/key/value rows and a Hugging Face folder's interleaved ones.
        for (name, base) in [("f32 .dolly file", fileBase), ("Hugging Face folder", try DollyModel.load(path: LoRAFixtures.base))] {
            let adapter = try merge.runtimeAdapter(config: base.config, qkvLayout: base.network.weights.qkvLayout)
            let measured = try measure(base, adapter: adapter)
            let worst = try worstRelative(measured, merged)
            print(String(format: "imatrix --lora at run time on the %@ vs the merged f32 file: %.2e (the base alone: %.2e)", name, worst, baseAlone))
            XCTAssertLessThanOrEqual(worst, 1e-5, name)
            XCTAssertEqual(measured.calibration, merged.calibration)
        }
        XCTAssertGreaterThan(baseAlone, 1e-2, "the adapter changes the statistics")
    }
}
