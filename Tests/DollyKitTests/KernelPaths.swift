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
