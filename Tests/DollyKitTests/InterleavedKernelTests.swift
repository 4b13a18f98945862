import CSIMD
import DollyKit
import XCTest

/// The R16 row-interleaved layouts: packing round trips, and every kernel path against the
/// scalar reference on awkward shapes (rows not a multiple of 16, token counts across tile tails).
final class InterleavedKernelTests: XCTestCase {
    var rng = SeededGenerator(seed: 7)

    func randomFloats(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in Float(rng.nextUnit() * 2 - 1) * scale }
    }

    /// Converts a random f32 matrix to `type` with the converter's own routine.
    func makeMatrix(rows: Int, cols: Int, type: csimd_type) -> (storage: UnsafeMutableRawBufferPointer, m: csimd_matrix, source: [Float]) {
        let source = randomFloats(rows * cols)
        let converted = convertedMatrix(source, rows: rows, cols: cols, type: type)
        return (converted.storage, converted.m, source)
    }

    /// Every row of an interleaved matrix dequantizes to exactly the row-major quantization of the same data.
    func testPackingRoundTripsTheRowMajorBlocks() {
        for (plain, interleaved) in [(CSIMD_TYPE_Q4, CSIMD_TYPE_Q4R16), (CSIMD_TYPE_Q8, CSIMD_TYPE_Q8R16)] {
            let rows = 37, cols = 96
            let b = makeMatrix(rows: rows, cols: cols, type: interleaved)
            defer { b.storage.deallocate() }
            let unit = Int(csimd_type_row_bytes(Int32(plain.rawValue), Int64(cols)))
            let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: rows * unit, alignment: 64)
            defer { buf.deallocate() }
            b.source.withUnsafeBufferPointer { src in
                var m = csimd_matrix(data: src.baseAddress, rows: Int64(rows), cols: Int64(cols), row_bytes: Int64(cols * 4),
                                     type: Int32(CSIMD_TYPE_F32.rawValue))
                XCTAssertEqual(csimd_rows_convert(&m, nil, 0, Int64(rows), Int32(plain.rawValue), buf.baseAddress, 2), 0)
            }
            var pm = csimd_matrix(data: buf.baseAddress, rows: Int64(rows), cols: Int64(cols), row_bytes: Int64(unit),
                                  type: Int32(plain.rawValue))
            var bm = b.m
            var row = [Float](repeating: 0, count: cols), ref = row
            for r in 0..<rows {
                XCTAssertEqual(csimd_matrix_row_dequantize(&bm, Int64(r), &row), 0)
                XCTAssertEqual(csimd_matrix_row_dequantize(&pm, Int64(r), &ref), 0)
                XCTAssertEqual(row, ref, "row \(r) of \(interleaved)")
            }
        }
    }

    func testEveryPathMatchesTheReference() throws {
        forEachKernelPath { path in
            for type in [CSIMD_TYPE_Q4R16, CSIMD_TYPE_Q8R16] {
                for (rows, cols) in [(1, 32), (16, 64), (37, 96), (50, 160)] {
                    let w = makeMatrix(rows: rows, cols: cols, type: type)
                    defer { w.storage.deallocate() }
                    var m = w.m
                    let bias = randomFloats(rows)
                    for tokens in [1, 2, 5, 13] {
                        let x = randomFloats(tokens * cols, scale: 3)
                        var fast = [Float](repeating: 0, count: tokens * rows), ref = fast
                        XCTAssertEqual(csimd_matrix_multiply(&m, x, Int64(tokens), bias, &fast, 2), 0)
                        XCTAssertEqual(csimd_matrix_multiply_ref(&m, x, Int64(tokens), bias, &ref), 0)
                        let scale = ref.map(abs).max()! + 1
                        for i in 0..<fast.count {
                            XCTAssertEqual(fast[i], ref[i], accuracy: 1e-5 * scale,
                                           "\(path) \(type) \(rows)x\(cols) tokens \(tokens) at \(i)")
                        }
                    }
                }
            }
        }
    }
}
