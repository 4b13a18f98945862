import CSIMD
import Foundation
import XCTest

/// The SIMD kernels of CSIMD against their scalar references, on every path this CPU can run.
/// Bounds (see csimd.h): Q8A quantization bit-exact; Q dots 2 (nb + 16) 2^-24 M with
/// M = sum_b |dw_b da_b| sum_j |qw_j qa_j|; F dots 2 (n + 16) 2^-24 sum |w_i x_i|.
final class KernelTests: XCTestCase {
    static let u = 1.0 / 16_777_216.0  // 2^-24

    private var savedPath = ""

    override func setUp() {
        super.setUp()
        savedPath = String(cString: csimd_kernel_name())
    }

    override func tearDown() {
        _ = csimd_kernel_force(savedPath)
        super.tearDown()
    }

    // MARK: - Random data

    private struct Rng {
        var s: UInt64
        mutating func next() -> UInt64 {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return s
        }
        mutating func uniform() -> Float { Float(next() >> 40) / 16_777_216.0 * 2 - 1 }
        mutating func gauss() -> Float {
            let u1 = (Double(next() >> 11) + 1) / 9_007_199_254_740_993.0
            let u2 = Double(next() >> 11) / 9_007_199_254_740_992.0
            return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
        }
    }

    /// Activation rows: 0 gaussian, 1 zeros, 2 +-max, 3 half-integer ties with d = 1 in every block.
    private func activations(_ n: Int, mode: Int, rng: inout Rng) -> [Float] {
        var x = [Float](repeating: 0, count: n)
        for i in 0..<n {
            switch mode {
            case 0: x[i] = rng.gauss() * 3
            case 1: x[i] = 0
            case 2: x[i] = i % 2 == 1 ? 1e4 : -1e4
            default: x[i] = Float(Int(rng.next() % 255) - 127) * 0.5
            }
        }
        if mode == 3 { for b in 0..<(n / 32) { x[b * 32 + 5] = 127 } }
        return x
    }

    private func quantizeRef(_ x: [Float]) -> [csimd_block_q8a] {
        var out = [csimd_block_q8a](repeating: csimd_block_q8a(), count: x.count / 32)
        csimd_q8a_quantize_ref(x, Int64(x.count), &out)
        return out
    }

    /// Q8 weight blocks as raw bytes: mode 0 random, 1 zeros, 2 +-127, 3 random with d = 1.
    private func q8Blocks(_ nb: Int, mode: Int, rng: inout Rng) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: nb * 34)
        for b in 0..<nb {
            let d = csimd_f32_to_f16(mode == 3 ? 1 : 0.001 + 0.01 * (rng.uniform() + 1))
            bytes[b * 34] = UInt8(d & 0xFF); bytes[b * 34 + 1] = UInt8(d >> 8)
            for j in 0..<32 {
                let q: Int8
                switch mode {
                case 1: q = 0
                case 2: q = j % 2 == 1 ? 127 : -127
                default: q = Int8(Int(rng.next() % 255) - 127)
                }
                bytes[b * 34 + 2 + j] = UInt8(bitPattern: q)
            }
        }
        return bytes
    }

    /// Q4 weight blocks as raw bytes: mode 0 random, 1 zeros (nibble 8), 2 all -8 (nibble 0), 3 random with d = 1.
    private func q4Blocks(_ nb: Int, mode: Int, rng: inout Rng) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: nb * 18)
        for b in 0..<nb {
            let d = csimd_f32_to_f16(mode == 3 ? 1 : 0.001 + 0.01 * (rng.uniform() + 1))
            bytes[b * 18] = UInt8(d & 0xFF); bytes[b * 18 + 1] = UInt8(d >> 8)
            for j in 0..<16 {
                bytes[b * 18 + 2 + j] = mode == 1 ? 0x88 : mode == 2 ? 0x00 : UInt8(truncatingIfNeeded: rng.next())
            }
        }
        return bytes
    }

    private func qsOf(_ a: csimd_block_q8a) -> [Int8] {
        withUnsafeBytes(of: a.qs) { Array($0.bindMemory(to: Int8.self)) }
    }

    /// sum_b |dw da| sum_j |qw_j qa_j|, from raw weight bytes.
    private func magnitude(weights: UnsafeRawPointer, q4: Bool, acts: ArraySlice<csimd_block_q8a>) -> Double {
        var m = 0.0
        for (b, a) in acts.enumerated() {
            let qa = qsOf(a)
            let base = weights + b * (q4 ? 18 : 34)
            let dw = Double(csimd_f16_to_f32(base.loadUnaligned(as: UInt16.self)))
            var s = 0.0
            for j in 0..<32 {
                let qw: Int
                if q4 {
                    let byte = base.load(fromByteOffset: 2 + j % 16, as: UInt8.self)
                    qw = Int(j < 16 ? byte & 0x0F : byte >> 4) - 8
                } else {
                    qw = Int(base.load(fromByteOffset: 2 + j, as: Int8.self))
                }
                s += abs(Double(qw * Int(qa[j])))
            }
            m += abs(dw * Double(a.d)) * s
        }
        return m
    }

    // MARK: - Dispatch

    func testForceUnknownNameFails() {
        XCTAssertEqual(csimd_kernel_force("no-such-path"), -1)
        XCTAssertEqual(csimd_kernel_force(""), -1)
        XCTAssertEqual(String(cString: csimd_kernel_name()), savedPath, "a failed force keeps the current path")
        XCTAssertEqual(csimd_kernel_force("scalar"), 0)
    }

    func testDefaultPathIsTheBestThisCpuRuns() throws {
        #if arch(x86_64)
        XCTAssertEqual(csimd_kernel_supported("avx2"), 1)
        XCTAssertEqual(csimd_kernel_supported("neon"), 0)
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        if cpuinfo.contains("avx512_vnni") && cpuinfo.contains("avx512bw") && cpuinfo.contains("avx512vl") {
            XCTAssertEqual(csimd_kernel_supported("avx512-vnni"), 1)
        }
        #endif
        let best = allKernelPaths.reversed().first { csimd_kernel_supported($0) == 1 }!  // best last; scalar always runs
        if ProcessInfo.processInfo.environment["DOLLY_KERNEL"] == nil {
            XCTAssertEqual(savedPath, best)
        }
    }

    // MARK: - Q8A quantization

    func testQ8AQuantizeMatchesReferenceExactly() {
        forEachKernelPath { path in
            var rng = Rng(s: 0x1234_5678_9ABC_DEF1)
            for mode in 0..<4 {
                for nb in [1, 3, 7, 33, 161] {
                    let x = activations(nb * 32, mode: mode, rng: &rng)
                    let ref = quantizeRef(x)
                    var fast = [csimd_block_q8a](repeating: csimd_block_q8a(), count: nb)
                    csimd_q8a_quantize(x, Int64(x.count), &fast)
                    let same = ref.withUnsafeBytes { r in fast.withUnsafeBytes { f in r.elementsEqual(f) } }
                    XCTAssertTrue(same, "\(path) mode \(mode) nb \(nb)")
                }
            }
        }
    }

    // MARK: - Q dots

    func testQuantizedDotsMatchReference() {
        forEachKernelPath { path in
            var rng = Rng(s: 0xDEAD_BEEF_CAFE_F00D)
            for mode in 0..<4 {
                for nb in [1, 3, 7, 33, 161] {
                    let acts = quantizeRef(activations(nb * 32, mode: mode, rng: &rng))
                    let w8 = q8Blocks(nb, mode: mode, rng: &rng)
                    let w4 = q4Blocks(nb, mode: mode, rng: &rng)
                    w8.withUnsafeBytes { p8 in
                        w4.withUnsafeBytes { p4 in
                            let b8 = p8.baseAddress!.assumingMemoryBound(to: csimd_block_q8.self)
                            let b4 = p4.baseAddress!.assumingMemoryBound(to: csimd_block_q4.self)
                            let f8 = csimd_dot_q8_q8a(b8, acts, Int64(nb)), r8 = csimd_dot_q8_q8a_ref(b8, acts, Int64(nb))
                            let f4 = csimd_dot_q4_q8a(b4, acts, Int64(nb)), r4 = csimd_dot_q4_q8a_ref(b4, acts, Int64(nb))
                            if mode == 3 {
                                // Every scale is 1: integer terms and partial sums < 2^24, so all paths are exact.
                                XCTAssertEqual(f8, r8, "\(path) exact Q8 nb \(nb)")
                                XCTAssertEqual(f4, r4, "\(path) exact Q4 nb \(nb)")
                            } else {
                                let k = 2 * Double(nb + 16) * Self.u
                                let m8 = magnitude(weights: p8.baseAddress!, q4: false, acts: acts[...])
                                let m4 = magnitude(weights: p4.baseAddress!, q4: true, acts: acts[...])
                                XCTAssertLessThanOrEqual(abs(Double(f8) - Double(r8)), k * m8, "\(path) Q8 mode \(mode) nb \(nb)")
                                XCTAssertLessThanOrEqual(abs(Double(f4) - Double(r4)), k * m4, "\(path) Q4 mode \(mode) nb \(nb)")
                                // Mode 1: zero weights and activations stay exactly zero. Mode 2 (+-127 bytes,
                                // all -8 nibbles, +-max activations) exercises the offset trick's extremes.
                                if mode == 1 { XCTAssertEqual(f8, 0); XCTAssertEqual(f4, 0) }
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: - F dots

    func testFloatDotsMatchReference() {
        forEachKernelPath { path in
            var rng = Rng(s: 42)
            for n in [0, 1, 3, 17, 31, 33, 64, 1001] {
                let w = (0..<n).map { _ in rng.gauss() }
                let x = (0..<n).map { _ in rng.gauss() }
                let h = w.map { csimd_f32_to_f16($0) }
                let bf = w.map { UInt16($0.bitPattern >> 16) }
                let k = 2 * Double(n + 16) * Self.u
                func mag(_ ws: [Float]) -> Double { zip(ws, x).reduce(0) { $0 + abs(Double($1.0) * Double($1.1)) } }
                let m32 = mag(w), m16 = mag(h.map { csimd_f16_to_f32($0) })
                let mbf = mag(bf.map { Float(bitPattern: UInt32($0) << 16) })
                XCTAssertLessThanOrEqual(abs(Double(csimd_dot_f32(w, x, Int64(n))) - Double(csimd_dot_f32_ref(w, x, Int64(n)))), k * m32, "\(path) f32 n \(n)")
                XCTAssertLessThanOrEqual(abs(Double(csimd_dot_f16(h, x, Int64(n))) - Double(csimd_dot_f16_ref(h, x, Int64(n)))), k * m16, "\(path) f16 n \(n)")
                XCTAssertLessThanOrEqual(abs(Double(csimd_dot_bf16(bf, x, Int64(n))) - Double(csimd_dot_bf16_ref(bf, x, Int64(n)))), k * mbf, "\(path) bf16 n \(n)")
            }
        }
    }

    // MARK: - Matrix multiply

    /// csimd_matrix_multiply on Q4/Q8 against a naive double-precision product of the dequantized
    /// weights and the dequantized Q8A activations.
    func testQuantizedMatrixMultiplyMatchesNaiveProduct() {
        forEachKernelPath { path in
            var rng = Rng(s: 7)
            let rows = 37, nb = 7, cols = nb * 32
            let bias = (0..<rows).map { _ in rng.gauss() }
            for q4 in [false, true] {
                let bytes = q4 ? q4Blocks(rows * nb, mode: 0, rng: &rng) : q8Blocks(rows * nb, mode: 0, rng: &rng)
                let rowBytes = nb * (q4 ? 18 : 34)
                bytes.withUnsafeBytes { wp in
                    var m = csimd_matrix(data: wp.baseAddress, rows: Int64(rows), cols: Int64(cols), row_bytes: Int64(rowBytes),
                                         type: Int32(q4 ? CSIMD_TYPE_Q4.rawValue : CSIMD_TYPE_Q8.rawValue))
                    var wdq = [Float](repeating: 0, count: rows * cols)
                    for r in 0..<rows {
                        wdq.withUnsafeMutableBufferPointer { XCTAssertEqual(csimd_matrix_row_dequantize(&m, Int64(r), $0.baseAddress! + r * cols), 0) }
                    }
                    for nTokens in [1, 2, 5, 13] {
                        let x = activations(nTokens * cols, mode: 0, rng: &rng)
                        let acts = quantizeRef(x)
                        let adq = acts.flatMap { a in qsOf(a).map { Double(a.d) * Double($0) } }
                        for withBias in [false, true] {
                            var y = [Float](repeating: .nan, count: nTokens * rows)
                            let rc = withBias ? csimd_matrix_multiply(&m, x, Int64(nTokens), bias, &y, 2)
                                              : csimd_matrix_multiply(&m, x, Int64(nTokens), nil, &y, 2)
                            XCTAssertEqual(rc, 0)
                            var worst = 0.0
                            for t in 0..<nTokens {
                                for r in 0..<rows {
                                    var exact = withBias ? Double(bias[r]) : 0
                                    for c in 0..<cols { exact += Double(wdq[r * cols + c]) * adq[t * cols + c] }
                                    let mag = magnitude(weights: wp.baseAddress! + r * rowBytes, q4: q4, acts: acts[(t * nb)..<((t + 1) * nb)])
                                    let bound = (2 * Double(nb + 16) + 2) * Self.u * mag + 4 * Self.u * abs(exact)
                                    worst = max(worst, abs(Double(y[t * rows + r]) - exact) / bound)
                                }
                            }
                            XCTAssertLessThanOrEqual(worst, 1, "\(path) \(q4 ? "Q4" : "Q8") tokens \(nTokens) bias \(withBias)")
                        }
                    }
                    var bad = m
                    bad.cols = Int64(cols - 1)
                    var y = [Float](repeating: 0, count: rows)
                    XCTAssertEqual(csimd_matrix_multiply(&bad, [Float](repeating: 1, count: cols), 1, nil, &y, 2), -1, "cols % 32 != 0")
                }
            }
        }
    }

    func testFloatMatrixMultiplyMatchesReference() {
        forEachKernelPath { path in
            var rng = Rng(s: 99)
            let rows = 19, cols = 33, nTokens = 5
            let w = (0..<(rows * cols)).map { _ in rng.gauss() }
            let h = w.map { csimd_f32_to_f16($0) }
            let bf = w.map { UInt16($0.bitPattern >> 16) }
            let x = (0..<(nTokens * cols)).map { _ in rng.gauss() }
            let bias = (0..<rows).map { _ in rng.gauss() }
            for type in [CSIMD_TYPE_F32, CSIMD_TYPE_F16, CSIMD_TYPE_BF16] {
                var y = [Float](repeating: 0, count: nTokens * rows), yr = y
                let run = { (p: UnsafeRawPointer, elem: Int) in
                    var m = csimd_matrix(data: p, rows: Int64(rows), cols: Int64(cols), row_bytes: Int64(cols * elem), type: Int32(type.rawValue))
                    XCTAssertEqual(csimd_matrix_multiply(&m, x, Int64(nTokens), bias, &y, 2), 0)
                    XCTAssertEqual(csimd_matrix_multiply_ref(&m, x, Int64(nTokens), bias, &yr), 0)
                }
                switch type {
                case CSIMD_TYPE_F32: w.withUnsafeBytes { run($0.baseAddress!, 4) }
                case CSIMD_TYPE_F16: h.withUnsafeBytes { run($0.baseAddress!, 2) }
                default: bf.withUnsafeBytes { run($0.baseAddress!, 2) }
                }
                for i in 0..<y.count { XCTAssertEqual(y[i], yr[i], accuracy: 1e-4 * (1 + abs(yr[i])), "\(path) type \(type.rawValue)") }
            }
        }
    }

    // MARK: - Reference quantizers

    func testQ4SearchedQuantizationBeatsAbsmax() {
        var rng = Rng(s: 2024)
        let n = 32 * 512
        let x = (0..<n).map { _ in rng.gauss() }
        var searched = [csimd_block_q4](repeating: csimd_block_q4(), count: n / 32), plain = searched
        csimd_q4_quantize_ref(x, Int64(n), &searched)
        csimd_q4_quantize_absmax_ref(x, Int64(n), &plain)
        var ys = [Float](repeating: 0, count: n), yp = ys
        csimd_q4_dequantize_ref(searched, Int64(n), &ys)
        csimd_q4_dequantize_ref(plain, Int64(n), &yp)
        let es = zip(x, ys).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
        let ep = zip(x, yp).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
        XCTAssertLessThan(es, ep)
        XCTAssertLessThan(es, 0.9 * ep, "the search should gain clearly on Gaussian data")
    }

    func testQuantizationRoundTripErrors() {
        var rng = Rng(s: 5)
        let n = 32 * 256
        let x = (0..<n).map { _ in rng.gauss() * (1 + 10 * abs(rng.uniform())) }
        var q8 = [csimd_block_q8](repeating: csimd_block_q8(), count: n / 32)
        var q4 = [csimd_block_q4](repeating: csimd_block_q4(), count: n / 32)
        csimd_q8_quantize_ref(x, Int64(n), &q8)
        csimd_q4_quantize_absmax_ref(x, Int64(n), &q4)
        var y8 = [Float](repeating: 0, count: n), y4 = y8
        csimd_q8_dequantize_ref(q8, Int64(n), &y8)
        csimd_q4_dequantize_ref(q4, Int64(n), &y4)
        var q4s = q4
        csimd_q4_quantize_ref(x, Int64(n), &q4s)
        var y4s = y8
        csimd_q4_dequantize_ref(q4s, Int64(n), &y4s)
        for b in 0..<(n / 32) {
            let d8 = Double(csimd_f16_to_f32(q8[b].d)), d4 = Double(csimd_f16_to_f32(q4[b].d))
            let d4s = Double(csimd_f16_to_f32(q4s[b].d))
            for j in 0..<32 {
                let i = b * 32 + j
                // Tolerance: d/2 plus the f32 rounding of x * (1/d) and of d * q.
                XCTAssertLessThanOrEqual(abs(Double(x[i]) - Double(y8[i])), d8 / 2 * (1 + 1e-5), "Q8 element \(i)")
                // Q4 within its clamp range [-8.5 d, 7.5 d] (absmax and searched scales alike).
                for (d, y) in [(d4, y4[i]), (d4s, y4s[i])] where d != 0 {
                    let level = Double(x[i]) / d
                    if level >= -8.5 && level <= 7.5 {
                        XCTAssertLessThanOrEqual(abs(Double(x[i]) - Double(y)), abs(d) / 2 * (1 + 1e-5), "Q4 element \(i)")
                    }
                }
            }
        }
    }
}
