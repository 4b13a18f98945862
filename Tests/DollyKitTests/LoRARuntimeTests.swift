import CSIMD
import Foundation
import XCTest
@testable import DollyKit

/// Run-time adapters (`--lora`) against the same deltas merged into f32 weights: the logits agree to
/// float rounding (1e-4 of the largest logit, the bound against PEFT), one token per pass and whole prompts per pass, in both qkv row orders, f16 and q8.
final class LoRARuntimeTests: XCTestCase {
    static var demo: DollyModel { PromptFidelityTests.demoModel }
    static let tokens: [Int32] = Array(try! demo.promptTokens(for: GenerationRequest(text: "Name three colors of the rainbow.")).prefix(40))

    /// max |a - b| over max |b|.
    func relative(_ a: [Float], _ b: [Float]) -> Float {
        XCTAssertEqual(a.count, b.count)
        var d: Float = 0, m: Float = 0
        for (x, y) in zip(a, b) { d = max(d, abs(x - y)); m = max(m, abs(y)) }
        return d / max(m, 1e-6)
    }

    func check(layout: QKVLayout, type: AdapterFile.ElementType, file: StaticString = #filePath, line: UInt = #line) throws {
        let c = Self.demo.config
        let deltas = LoRATestSupport.deltas(c)
        let path = try scratchDirectory("lora").appendingPathComponent("a.dolly-lora").path
        try AdapterFile.write(deltas, to: path, type: type, base: c, identity: "test")
        let base = LoRATestSupport.model(Self.demo, layout: layout)
        let adapter = try LoRAAdapter(path: path, model: base)
        let stored = type == .q8 ? LoRATestSupport.q8RoundTrip(deltas, c) : deltas
        let merged = LoRATestSupport.model(Self.demo, layout: layout, plus: stored)
        let want = try LoRATestSupport.logits(merged, Self.tokens)
        let plain = try LoRATestSupport.logits(base, Self.tokens)
        XCTAssertGreaterThan(relative(plain, want), 1e-2, "the adapter must change the logits", file: file, line: line)
        for batch in [64, 1, 7] {
            let got = try LoRATestSupport.logits(base, Self.tokens, adapter: adapter, batch: batch)
            XCTAssertLessThan(relative(got, want), 1e-4, "\(layout) \(type) batch \(batch)", file: file, line: line)
        }
    }

    func testF16AdapterEqualsMergedWeightsOnSplitRows() throws { try check(layout: .split, type: .f16) }
    func testF16AdapterEqualsMergedWeightsOnHuggingFaceRows() throws { try check(layout: .perHeadInterleaved, type: .f16) }
    func testQ8AdapterEqualsMergedWeightsOnSplitRows() throws { try check(layout: .split, type: .q8) }
    func testF32AdapterEqualsMergedWeightsOnBothRowOrders() throws {
        try check(layout: .split, type: .f32)
        try check(layout: .perHeadInterleaved, type: .f32)
    }

    func testStrengthScalesTheDelta() throws {
        let c = Self.demo.config
        var deltas = LoRATestSupport.deltas(c)
        let path = try scratchDirectory("lora").appendingPathComponent("a.dolly-lora").path
        try AdapterFile.write(deltas, to: path, type: .f16, base: c, identity: "test")
        let base = LoRATestSupport.model(Self.demo, layout: .split)
        let adapter = try LoRAAdapter(path: path, model: base)
        for i in deltas.indices { deltas[i].scale *= 0.5 }
        let want = try LoRATestSupport.logits(LoRATestSupport.model(Self.demo, layout: .split, plus: deltas), Self.tokens)
        XCTAssertLessThan(relative(try LoRATestSupport.logits(base, Self.tokens, adapter: adapter, strength: 0.5), want), 1e-4)
        // Strength 0 is the base.
        XCTAssertEqual(try LoRATestSupport.logits(base, Self.tokens, adapter: adapter, strength: 0),
                       try LoRATestSupport.logits(base, Self.tokens))
    }

    func testKernelsMatchTheirReferenceOnEveryPath() throws {
        var noise = XorShiftNoise(state: 7)
        func gauss() -> Float { noise.next() }
        try forEachKernelPath { path in
            for (type, rank, cols, rows, tokens) in [(CSIMD_TYPE_F16, 1, 1, 1, 1), (CSIMD_TYPE_F16, 3, 37, 161, 5),
                                                    (CSIMD_TYPE_F32, 2, 65, 99, 4), (CSIMD_TYPE_F32, 16, 3, 1, 2),
                                                    (CSIMD_TYPE_F16, 17, 129, 77, 3), (CSIMD_TYPE_Q8, 5, 96, 160, 9),
                                                    (CSIMD_TYPE_Q8, 16, 32, 416, 1)] {
                let q8 = type == CSIMD_TYPE_Q8
                func encoded(_ r: Int, _ c: Int) -> [UInt8] {
                    AdapterFile.encode((0..<r * c).map { _ in gauss() * 0.1 }, rows: r, cols: c,
                                       q8 ? .q8 : type == CSIMD_TYPE_F32 ? .f32 : .f16)
                }
                let a = encoded(rank, cols), bt = encoded(rank, rows)
                let x = (0..<tokens * cols).map { _ in gauss() * 3 }
                var y = (0..<tokens * rows).map { _ in gauss() }, yr = y
                var s1 = [Float](repeating: 0, count: tokens * rank), s2 = s1
                a.withUnsafeBytes { ap in bt.withUnsafeBytes { bp in
                    var m = csimd_lora(a: ap.baseAddress, bt: bp.baseAddress, rank: Int64(rank), cols: Int64(cols),
                                       rows: Int64(rows), type: Int32(type.rawValue))
                    XCTAssertEqual(csimd_lora_apply(&m, x, Int64(tokens), 1.5, &s1, &y, 3), 0)
                    XCTAssertEqual(csimd_lora_apply_ref(&m, x, Int64(tokens), 1.5, &s2, &yr), 0)
                } }
                XCTAssertLessThan(relative(y, yr), 1e-5, "\(path) \(type) rank \(rank) \(cols)x\(rows)")
            }
        }
    }

    /// A prompt pass's rows get exactly what each gets alone, whatever the number of tokens (the
    /// kernels share weight loads among blocks of tokens and rows): a verify pass or a prompt cannot
    /// differ from decoding one token at a time. Odd shapes reach every register block's remainder.
    func testManyTokensInOneCallMatchEachTokenAloneExactly() throws {
        var noise = XorShiftNoise(state: 5)
        func gauss() -> Float { noise.next() }
        try forEachKernelPath { path in
            for (type, rank, cols, rows, tokens) in [(CSIMD_TYPE_F16, 17, 93, 133, 31), (CSIMD_TYPE_F32, 6, 64, 200, 13),
                                                    (CSIMD_TYPE_Q8, 7, 96, 160, 29), (CSIMD_TYPE_Q8, 16, 64, 96, 6),
                                                    (CSIMD_TYPE_F16, 16, 256, 320, 50), (CSIMD_TYPE_F32, 1, 5, 3, 7)] {
                let kind: TensorType = type == CSIMD_TYPE_Q8 ? .q8 : type == CSIMD_TYPE_F32 ? .f32 : .f16
                let a = AdapterFile.encode((0..<rank * cols).map { _ in gauss() * 0.1 }, rows: rank, cols: cols, kind)
                let bt = AdapterFile.encode((0..<rank * rows).map { _ in gauss() * 0.1 }, rows: rank, cols: rows, kind)
                let x = (0..<tokens * cols).map { _ in gauss() * 3 }
                let y0 = (0..<tokens * rows).map { _ in gauss() }
                var together = y0, alone = y0
                var scratch = [Float](repeating: 0, count: tokens * rank)
                a.withUnsafeBytes { ap in bt.withUnsafeBytes { bp in
                    var m = csimd_lora(a: ap.baseAddress, bt: bp.baseAddress, rank: Int64(rank), cols: Int64(cols),
                                       rows: Int64(rows), type: Int32(type.rawValue))
                    XCTAssertEqual(csimd_lora_apply(&m, x, Int64(tokens), 0.75, &scratch, &together, 2), 0)
                    x.withUnsafeBufferPointer { xp in alone.withUnsafeMutableBufferPointer { yp in
                        for t in 0..<tokens {
                            XCTAssertEqual(csimd_lora_apply(&m, xp.baseAddress! + t * cols, 1, 0.75, &scratch,
                                                            yp.baseAddress! + t * rows, 2), 0)
                        }
                    } }
                } }
                XCTAssertEqual(together, alone, "\(path) \(type) rank \(rank) \(cols)x\(rows) \(tokens) tokens")
                XCTAssertNotEqual(together, y0)
            }
        }
    }

    /// Groups on different adapters in one call give each row exactly what it gets alone: a serving
    /// step's answers cannot depend on which other slots share it.
    func testGroupsInOneCallMatchEachGroupAloneExactly() throws {
        var noise = XorShiftNoise(state: 11)
        func gauss() -> Float { noise.next() }
        try forEachKernelPath { path in
            let cols = 96, rows = 160
            let shapes: [(csimd_type, Int, Int)] = [(CSIMD_TYPE_F16, 16, 1), (CSIMD_TYPE_Q8, 8, 3), (CSIMD_TYPE_F32, 5, 1),
                                                  (CSIMD_TYPE_F16, 3, 2)]
            let encodedPairs = shapes.map { (type, rank, _) -> ([UInt8], [UInt8]) in
                let kind: TensorType = type == CSIMD_TYPE_Q8 ? .q8 : type == CSIMD_TYPE_F32 ? .f32 : .f16
                return (AdapterFile.encode((0..<rank * cols).map { _ in gauss() * 0.1 }, rows: rank, cols: cols, kind),
                        AdapterFile.encode((0..<rank * rows).map { _ in gauss() * 0.1 }, rows: rank, cols: rows, kind))
            }
            let tokens = shapes.reduce(0) { $0 + $1.2 }
            let x = (0..<tokens * cols).map { _ in gauss() * 3 }
            let y0 = (0..<tokens * rows).map { _ in gauss() }
            var together = y0, alone = y0
            var scratch = [Float](repeating: 0, count: tokens * 16), scratchAlone = scratch
            let pinned = encodedPairs.map { (a, bt) -> (UnsafeMutableRawBufferPointer, UnsafeMutableRawBufferPointer) in
                let pa = UnsafeMutableRawBufferPointer.allocate(byteCount: a.count, alignment: 64)
                let pb = UnsafeMutableRawBufferPointer.allocate(byteCount: bt.count, alignment: 64)
                pa.copyBytes(from: a); pb.copyBytes(from: bt)
                return (pa, pb)
            }
            defer { for (a, b) in pinned { a.deallocate(); b.deallocate() } }
            let deltas = UnsafeMutablePointer<csimd_lora>.allocate(capacity: shapes.count)
            defer { deltas.deallocate() }
            for (g, (type, rank, _)) in shapes.enumerated() {
                deltas[g] = csimd_lora(a: UnsafeRawPointer(pinned[g].0.baseAddress), bt: UnsafeRawPointer(pinned[g].1.baseAddress),
                                       rank: Int64(rank), cols: Int64(cols), rows: Int64(rows), type: Int32(type.rawValue))
            }
            x.withUnsafeBufferPointer { xp in
                together.withUnsafeMutableBufferPointer { yp in scratch.withUnsafeMutableBufferPointer { sp in
                    var groups: [csimd_lora_group] = []
                    var row = 0
                    for (g, shape) in shapes.enumerated() {
                        groups.append(csimd_lora_group(m: deltas + g, x: xp.baseAddress! + row * cols, y: yp.baseAddress! + row * rows,
                                                       scratch: sp.baseAddress! + row * 16, n_tokens: Int64(shape.2),
                                                       scale: Float(g + 1) * 0.5))
                        row += shape.2
                    }
                    XCTAssertEqual(csimd_lora_apply_groups(groups, Int64(groups.count), 2), 0)
                } }
                alone.withUnsafeMutableBufferPointer { yp in scratchAlone.withUnsafeMutableBufferPointer { sp in
                    var row = 0
                    for (g, shape) in shapes.enumerated() {
                        XCTAssertEqual(csimd_lora_apply(deltas + g, xp.baseAddress! + row * cols, Int64(shape.2), Float(g + 1) * 0.5,
                                                        sp.baseAddress!, yp.baseAddress! + row * rows, 2), 0)
                        row += shape.2
                    }
                } }
            }
            XCTAssertEqual(together, alone, "\(path)")
            XCTAssertNotEqual(together, y0)
            // One bad group refuses the whole call before touching any row.
            let bad = UnsafeMutablePointer<csimd_lora>.allocate(capacity: 1)
            defer { bad.deallocate() }
            bad.pointee = deltas[0]
            bad.pointee.type = 99
            var untouched = y0
            untouched.withUnsafeMutableBufferPointer { yp in scratch.withUnsafeMutableBufferPointer { sp in
                let groups = [csimd_lora_group(m: deltas, x: x, y: yp.baseAddress!, scratch: sp.baseAddress!, n_tokens: 1, scale: 1),
                              csimd_lora_group(m: bad, x: x, y: yp.baseAddress!, scratch: sp.baseAddress!, n_tokens: 1, scale: 1)]
                XCTAssertEqual(csimd_lora_apply_groups(groups, 2, 2), -1)
            } }
            XCTAssertEqual(untouched, y0)
        }
    }
}

/// Deterministic values in [-1, 1) from an xorshift state: the kernels' test inputs.
struct XorShiftNoise {
    var state: UInt64

    mutating func next() -> Float {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return Float(Int64(state >> 40) - (1 << 23)) / Float(1 << 23)
    }
}
