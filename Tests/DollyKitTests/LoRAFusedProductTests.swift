import CSIMD
@testable import DollyKit
import XCTest

/// csimd_matrix_multiply_lora (adapter deltas added inside the weights' product, tile by tile) against
/// the product followed by csimd_lora_apply_groups: bit-identical on every kernel path, whether the
/// deltas are fused (R16 weights, f16 / f32 adapters, prompt-sized groups) or take the pass of their
/// own (q8 adapters, decoding steps, row-major weights), with rows outside any group left as the
/// product wrote them.
final class LoRAFusedProductTests: XCTestCase {
    var rng = SeededGenerator(seed: 23)

    func randomFloats(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in Float(rng.nextUnit() * 2 - 1) * scale }
    }

    /// A random rows x cols matrix converted to `type` (caller frees storage).
    func matrix(rows: Int, cols: Int, type: csimd_type) -> (storage: UnsafeMutableRawBufferPointer, m: csimd_matrix) {
        convertedMatrix(randomFloats(rows * cols), rows: rows, cols: cols, type: type)
    }

    /// (adapter type, rank, first token row, token count) for each group.
    func check(weights: csimd_type, rows: Int, cols: Int, tokens: Int, groups spec: [(csimd_type, Int, Int, Int)],
               file: StaticString = #filePath, line: UInt = #line) {
        let w = matrix(rows: rows, cols: cols, type: weights)
        defer { w.storage.deallocate() }
        let deltas = UnsafeMutablePointer<csimd_lora>.allocate(capacity: spec.count)
        defer { deltas.deallocate() }
        var buffers: [UnsafeMutableRawBufferPointer] = []
        defer { buffers.forEach { $0.deallocate() } }
        for (g, (type, rank, _, _)) in spec.enumerated() {
            let kind: TensorType = type == CSIMD_TYPE_Q8 ? .q8 : type == CSIMD_TYPE_F32 ? .f32 : .f16
            let a = AdapterFile.encode(randomFloats(rank * cols, scale: 0.1), rows: rank, cols: cols, kind)
            let bt = AdapterFile.encode(randomFloats(rank * rows, scale: 0.1), rows: rank, cols: rows, kind)
            for bytes in [a, bt] {
                let p = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 64)
                p.copyBytes(from: bytes)
                buffers.append(p)
            }
            deltas[g] = csimd_lora(a: UnsafeRawPointer(buffers[2 * g].baseAddress), bt: UnsafeRawPointer(buffers[2 * g + 1].baseAddress),
                                   rank: Int64(rank), cols: Int64(cols), rows: Int64(rows), type: Int32(type.rawValue))
        }
        let x = randomFloats(tokens * cols, scale: 3), bias = randomFloats(rows)
        var fused = [Float](repeating: 0, count: tokens * rows), separate = fused, plain = fused
        var scratch = [Float](repeating: 0, count: tokens * 16), scratchSeparate = scratch
        var m = w.m
        func groups(_ y: UnsafeMutablePointer<Float>, _ s: UnsafeMutablePointer<Float>, _ xp: UnsafePointer<Float>) -> [csimd_lora_group] {
            spec.enumerated().map { g, item in
                csimd_lora_group(m: deltas + g, x: xp + item.2 * cols, y: y + item.2 * rows, scratch: s + item.2 * 16,
                                 n_tokens: Int64(item.3), scale: Float(g + 1) * 0.75)
            }
        }
        x.withUnsafeBufferPointer { xp in
            fused.withUnsafeMutableBufferPointer { yp in scratch.withUnsafeMutableBufferPointer { sp in
                let list = groups(yp.baseAddress!, sp.baseAddress!, xp.baseAddress!)
                XCTAssertEqual(csimd_matrix_multiply_lora(&m, xp.baseAddress!, Int64(tokens), bias, yp.baseAddress!, list,
                                                          Int64(list.count), 2), 0, file: file, line: line)
            } }
            separate.withUnsafeMutableBufferPointer { yp in scratchSeparate.withUnsafeMutableBufferPointer { sp in
                XCTAssertEqual(csimd_matrix_multiply(&m, xp.baseAddress!, Int64(tokens), bias, yp.baseAddress!, 2), 0)
                let list = groups(yp.baseAddress!, sp.baseAddress!, xp.baseAddress!)
                XCTAssertEqual(csimd_lora_apply_groups(list, Int64(list.count), 2), 0, file: file, line: line)
            } }
            XCTAssertEqual(csimd_matrix_multiply(&m, xp.baseAddress!, Int64(tokens), bias, &plain, 2), 0)
        }
        XCTAssertEqual(zip(fused, separate).filter { $0 != $1 }.count, 0, "values differing, \(weights) \(rows)x\(cols)",
                       file: file, line: line)
        let covered = Set(spec.flatMap { $0.2..<$0.2 + $0.3 })
        for t in 0..<tokens {
            let row = Array(fused[t * rows..<(t + 1) * rows]), base = Array(plain[t * rows..<(t + 1) * rows])
            XCTAssertEqual(row == base, !covered.contains(t), "token \(t): changed only where a group covers it",
                           file: file, line: line)
        }
    }

    func testFusedDeltasEqualTheProductThenTheDeltas() throws {
        forEachKernelPath { _ in
            // Fused: R16 weights (rows not a multiple of 16), f16 and f32 adapters of 8 tokens or more, a
            // row with none between; groups too small to fuse and a q8 one beside them take their own pass.
            let mixed = [(CSIMD_TYPE_F16, 16, 0, 9), (CSIMD_TYPE_F32, 5, 9, 11), (CSIMD_TYPE_F16, 3, 21, 1),
                         (CSIMD_TYPE_F16, 2, 23, 8)]
            for weights in [CSIMD_TYPE_Q4NR16, CSIMD_TYPE_Q8R16, CSIMD_TYPE_Q3NR16] {
                check(weights: weights, rows: 50, cols: 96, tokens: 31, groups: mixed)
            }
            check(weights: CSIMD_TYPE_Q4NR16, rows: 64, cols: 96, tokens: 20,
                  groups: [(CSIMD_TYPE_F16, 8, 0, 10), (CSIMD_TYPE_Q8, 4, 10, 9), (CSIMD_TYPE_F32, 3, 19, 1)])
            // Enough tokens to cross the product's token chunks.
            check(weights: CSIMD_TYPE_Q4NR16, rows: 40, cols: 2048, tokens: 240, groups: [(CSIMD_TYPE_F16, 16, 3, 237)])
            // Decoding steps: one or a few tokens per adapter, every type (a pass of their own), also beside
            // a prompt-sized group that is fused.
            check(weights: CSIMD_TYPE_Q4NR16, rows: 64, cols: 96, tokens: 6,
                  groups: [(CSIMD_TYPE_Q8, 8, 0, 2), (CSIMD_TYPE_F16, 4, 2, 3)])
            check(weights: CSIMD_TYPE_Q4NR16, rows: 1056, cols: 128, tokens: 5,
                  groups: [(CSIMD_TYPE_Q8, 16, 0, 1), (CSIMD_TYPE_F16, 16, 1, 1), (CSIMD_TYPE_Q8, 5, 2, 1),
                           (CSIMD_TYPE_F32, 3, 4, 1)])
            check(weights: CSIMD_TYPE_Q8R16, rows: 96, cols: 64, tokens: 16,
                  groups: [(CSIMD_TYPE_F16, 4, 0, 12), (CSIMD_TYPE_Q8, 8, 12, 1), (CSIMD_TYPE_F16, 2, 13, 3)])
            // Row-major weights.
            check(weights: CSIMD_TYPE_Q4, rows: 50, cols: 96, tokens: 31, groups: mixed)
            check(weights: CSIMD_TYPE_F32, rows: 50, cols: 96, tokens: 31, groups: mixed)
        }
    }

    func testABadGroupIsRefused() {
        let w = matrix(rows: 32, cols: 64, type: CSIMD_TYPE_Q4NR16)
        defer { w.storage.deallocate() }
        var m = w.m
        let a = [UInt8](repeating: 0, count: 64 * 2), bt = [UInt8](repeating: 0, count: 32 * 2)
        a.withUnsafeBytes { ap in bt.withUnsafeBytes { bp in
            var delta = csimd_lora(a: ap.baseAddress, bt: bp.baseAddress, rank: 1, cols: 64, rows: 32, type: 99)
            let x = [Float](repeating: 1, count: 64)
            var y = [Float](repeating: 0, count: 32), s = [Float](repeating: 0, count: 1)
            y.withUnsafeMutableBufferPointer { yp in s.withUnsafeMutableBufferPointer { sp in
                let g = [csimd_lora_group(m: &delta, x: x, y: yp.baseAddress!, scratch: sp.baseAddress!, n_tokens: 1, scale: 1)]
                XCTAssertEqual(csimd_matrix_multiply_lora(&m, x, 1, nil, yp.baseAddress!, g, 1, 2), -1)
            } }
        } }
    }
}
