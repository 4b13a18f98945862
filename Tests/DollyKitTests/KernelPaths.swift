import CSIMD
import XCTest

/// Every CSIMD kernel path, best last; tests force each one this CPU runs.
let allKernelPaths = ["scalar", "avx2", "avx2-vnni", "avx512-vnni", "avx512-vbmi", "neon", "neon-dotprod"]

/// Runs `body` once per kernel path this CPU supports, with that path forced, and restores the
/// path that was current before.
func forEachKernelPath(file: StaticString = #filePath, line: UInt = #line, _ body: (String) throws -> Void) rethrows {
    let saved = String(cString: csimd_kernel_name())
    defer { _ = csimd_kernel_force(saved) }
    var ran = 0
    for name in allKernelPaths where csimd_kernel_supported(name) == 1 {
        XCTAssertEqual(csimd_kernel_force(name), 0, name, file: file, line: line)
        XCTAssertEqual(String(cString: csimd_kernel_name()), name, file: file, line: line)
        try body(name)
        ran += 1
    }
    XCTAssertGreaterThanOrEqual(ran, 1, file: file, line: line)
}

/// `source` (rows x cols, row-major f32) converted to `type` by the converter's own routine, in
/// storage the caller frees (R16 types in whole groups of 16 rows).
func convertedMatrix(_ source: [Float], rows: Int, cols: Int, type: csimd_type,
                     file: StaticString = #filePath, line: UInt = #line) -> (storage: UnsafeMutableRawBufferPointer, m: csimd_matrix) {
    let unit = Int(csimd_type_row_bytes(Int32(type.rawValue), Int64(cols)))
    let r16 = [CSIMD_TYPE_Q4R16, CSIMD_TYPE_Q8R16, CSIMD_TYPE_Q4NR16, CSIMD_TYPE_Q3NR16].contains(type)
    let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: (r16 ? (rows + 15) / 16 : rows) * unit, alignment: 64)
    source.withUnsafeBufferPointer { src in
        var m = csimd_matrix(data: src.baseAddress, rows: Int64(rows), cols: Int64(cols), row_bytes: Int64(cols * 4),
                             type: Int32(CSIMD_TYPE_F32.rawValue))
        XCTAssertEqual(csimd_rows_convert(&m, nil, 0, Int64(rows), Int32(type.rawValue), storage.baseAddress, 2), 0,
                       file: file, line: line)
    }
    return (storage, csimd_matrix(data: storage.baseAddress, rows: Int64(rows), cols: Int64(cols), row_bytes: Int64(unit),
                                  type: Int32(type.rawValue)))
}
