import CSIMD
import Foundation
import XCTest
@testable import DollyKit

/// `.dolly-lora` files: what the writer puts there reads back, and a damaged, cut, foreign or
/// mismatched file is one clear `LoRAError`, never a crash.
final class AdapterFileTests: XCTestCase {
    static var demo: DollyModel { PromptFidelityTests.demoModel }

    func written(_ type: AdapterFile.ElementType = .f16) throws -> (String, Data) {
        let path = try scratchDirectory("lora").appendingPathComponent("a.dolly-lora").path
        try AdapterFile.write(LoRATestSupport.deltas(Self.demo.config), to: path, type: type, base: Self.demo.config,
                              identity: "unit test", alpha: 8)
        return (path, try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func load(_ path: String) throws -> LoRAAdapter { try LoRAAdapter(path: path, model: Self.demo.network) }

    func testRoundTrip() throws {
        for type in AdapterFile.ElementType.allCases {
            let (path, data) = try written(type)
            XCTAssertTrue(AdapterFile.hasMagic(path: path))
            let a = try LoRAAdapter(path: path, config: Self.demo.config, qkvLayout: .split)
            XCTAssertEqual(a.identity, "unit test")
            XCTAssertEqual(a.maxRank, 8)
            XCTAssertEqual(a.metadata.pairs.count, 4 * Self.demo.config.numHiddenLayers - 1)
            XCTAssertEqual(a.metadata.targets, ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"])
            XCTAssertEqual(a.metadata.tensors.allSatisfy { $0.type.rawValue == type.rawValue }, true)
            XCTAssertLessThan(a.bytes, data.count)
            XCTAssertNil(a.matrix(layer: 1, .mlpDown))
            XCTAssertNotNil(a.matrix(layer: 0, .qkv))
        }
    }

    func expect(_ path: String, _ check: (LoRAError) -> Bool, _ what: String, line: UInt = #line) {
        XCTAssertThrowsError(try load(path), what, line: line) { e in
            guard let e = e as? LoRAError else { return XCTFail("\(what): \(e) is not a LoRAError", line: line) }
            XCTAssertTrue(check(e), "\(what): \(e.localizedDescription)", line: line)
        }
    }

    func testDamagedFilesAreOneClearError() throws {
        let (path, data) = try written()
        func variant(_ name: String, _ bytes: Data) throws -> String {
            let p = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(name).path
            try bytes.write(to: URL(fileURLWithPath: p))
            return p
        }
        func isBad(_ e: LoRAError) -> Bool { if case .badFile = e { return true }; return false }
        // Every single-byte flip in the header, in the metadata and in a tensor.
        let metaLength = Int(data[24]) | Int(data[25]) << 8
        let dataOffset = Int(data[32]) | Int(data[33]) << 8 | Int(data[34]) << 16
        for offset in Array(stride(from: 0, to: 64, by: 3)) + [64, 64 + metaLength / 2, 63 + metaLength, dataOffset, dataOffset + 1000, data.count - 1] {
            var d = data
            d[offset] ^= 0x41
            let p = try variant("flip-\(offset).dolly-lora", d)
            expect(p, { e in
                if case .notAdapterFile = e { return offset < 8 }
                return isBad(e)
            }, "byte \(offset) flipped")
        }
        for cut in [0, 7, 63, 64 + metaLength, dataOffset + 10, data.count - 1] {
            expect(try variant("cut-\(cut).dolly-lora", data.prefix(cut)), { e in
                if case .notAdapterFile = e { return cut < 8 }
                return isBad(e)
            }, "cut at \(cut)")
        }
        expect(try variant("long.dolly-lora", data + Data([0])), isBad, "a byte appended")
        expect(URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("missing").path, isBad, "no file")
        expect(URL(fileURLWithPath: path).deletingLastPathComponent().path, isBad, "a folder")
    }

    func testDollyFileIsNotAnAdapter() throws {
        let dir = try scratchDirectory("lora")
        let p = dir.appendingPathComponent("m.dolly").path
        _ = try Converter(sourceDirectory: FixturePaths.path("tiny-bin"), recipe: .q8).convert(to: p)
        expect(p, { if case .notAdapterFile = $0 { return true }; return false }, ".dolly given as adapter")
    }

    func testAdapterForAnotherShapeDoesNotFit() throws {
        var c = Self.demo.config
        c.intermediateSize = 256
        let path = try scratchDirectory("lora").appendingPathComponent("b.dolly-lora").path
        let deltas = LoRATestSupport.deltas(c).filter { $0.matrix != .mlpUp && $0.matrix != .mlpDown }
        try AdapterFile.write(deltas, to: path, type: .f16, base: c, identity: "other")
        expect(path, { if case .doesNotFit = $0 { return true }; return false }, "other intermediate size")
    }

    func testQ8AdapterNeedsDollyRowOrder() throws {
        let (path, _) = try written(.q8)
        XCTAssertThrowsError(try LoRAAdapter(path: path, config: Self.demo.config, qkvLayout: .perHeadInterleaved)) { e in
            guard case .doesNotFit = e as? LoRAError else { return XCTFail("\(e)") }
        }
        XCTAssertNoThrow(try LoRAAdapter(path: path, config: Self.demo.config, qkvLayout: .split))
    }

    func testWriterRefusesBadDeltas() throws {
        let c = Self.demo.config
        let path = try scratchDirectory("lora").appendingPathComponent("c.dolly-lora").path
        var d = LoRATestSupport.deltas(c)[0]
        func refused(_ deltas: [AdapterDelta], line: UInt = #line) {
            XCTAssertThrowsError(try AdapterFile.write(deltas, to: path, type: .f16, base: c, identity: "x"), line: line) { e in
                guard case .badDelta = e as? LoRAError else { return XCTFail("\(e)", line: line) }
            }
        }
        refused([])
        refused([d, d])
        var e = d; e.layer = c.numHiddenLayers; refused([e])
        e = d; e.a.removeLast(); refused([e])
        e = d; e.b[0] = .nan; refused([e])
        e = d; e.matrix = .qkvBias; refused([e])
        d.rank = 0; refused([d])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }
}
