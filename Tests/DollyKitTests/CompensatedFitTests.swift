import CSIMD
import Foundation
import XCTest

/// The error-compensating fit (GPTQ) in CSIMD: covariance bands against double sums, the factor against
/// its definition U^T U = (H + damp I)^-1, the sweep against the plain fit it must reduce to when
/// nothing correlates, and the output error it exists to lower.
final class CompensatedFitTests: XCTestCase {
    private struct Rng {
        var s: UInt64
        mutating func next() -> UInt64 {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return s
        }
        mutating func gauss() -> Float {
            let u1 = (Double(next() >> 11) + 1) / 9_007_199_254_740_993.0
            let u2 = Double(next() >> 11) / 9_007_199_254_740_992.0
            return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
        }
    }

    /// Band b0..<b0+bw of a cols-wide layout: (start, width, float offset).
    private func bands(cols: Int, band: Int) -> [(Int, Int, Int)] {
        var out: [(Int, Int, Int)] = [], at = 0
        for b0 in stride(from: 0, to: cols, by: band) {
            let w = min(band, cols - b0)
            out.append((b0, w, at))
            at += w * w
        }
        return out
    }

    /// Inputs whose columns correlate: gaussian rows times a random mixing matrix.
    private func correlatedInputs(tokens: Int, cols: Int, rng: inout Rng) -> [Float] {
        let mix = (0..<cols * cols).map { _ in rng.gauss() / Float(cols).squareRoot() }
        var x = [Float](repeating: 0, count: tokens * cols)
        for t in 0..<tokens {
            let z = (0..<cols).map { _ in rng.gauss() }
            for c in 0..<cols {
                var s: Float = 0.3 * z[c]
                for k in 0..<cols { s += z[k] * mix[k * cols + c] }
                x[t * cols + c] = s
            }
        }
        return x
    }

    func testCovarianceBandsMatchDoubleSums() {
        // Bands of 48, 48 and 6 columns (tiles cut at every edge); 301 tokens: two full chunks and a partial one.
        var rng = Rng(s: 11)
        let tokens = 301, cols = 102, band = 48
        let x = (0..<tokens * cols).map { _ in rng.gauss() }
        XCTAssertEqual(csimd_band_floats(Int64(cols), Int64(band)), 48 * 48 * 2 + 36)
        var exact = [Double](repeating: 0, count: Int(csimd_band_floats(Int64(cols), Int64(band))))
        for (b0, w, at) in bands(cols: cols, band: band) {
            for i in 0..<w {
                for k in 0..<w {
                    for t in 0..<tokens { exact[at + i * w + k] += Double(x[t * cols + b0 + i]) * Double(x[t * cols + b0 + k]) }
                }
            }
        }
        forEachKernelPath { path in
            var h = [Float](repeating: 0, count: exact.count)
            XCTAssertEqual(csimd_covariance_accumulate(x, Int64(tokens), Int64(cols), Int64(band), &h, 2), 0)
            XCTAssertEqual(csimd_covariance_accumulate(x, Int64(tokens), Int64(cols), Int64(band), &h, 2), 0)  // adds
            var worst = 0.0
            for i in 0..<h.count { worst = max(worst, abs(Double(h[i]) - 2 * exact[i])) }
            // f32 sums of 301 products of unit gaussians: a few 1e-5 of the sum's scale.
            XCTAssertLessThan(worst, 1e-3 * Double(tokens) / 100, path)
            XCTAssertEqual(csimd_covariance_accumulate(x, Int64(tokens), Int64(cols), 0, &h, 2), -1, path)
        }
    }

    func testFactorInvertsTheDampedCovariance() {
        var rng = Rng(s: 12)
        let tokens = 300, cols = 96, band = 64, damp = 0.01
        var x = correlatedInputs(tokens: tokens, cols: cols, rng: &rng)
        for t in 0..<tokens { x[t * cols + 5] = 0 }  // a column no token reaches
        var h = [Float](repeating: 0, count: Int(csimd_band_floats(Int64(cols), Int64(band))))
        _ = csimd_covariance_accumulate(x, Int64(tokens), Int64(cols), Int64(band), &h, 2)
        var u = h
        XCTAssertEqual(csimd_gptq_factor(h, Int64(cols), Int64(band), damp, &u, 2), 0)
        let parts = bands(cols: cols, band: band)
        var diag = 0.0
        for (_, w, at) in parts { for i in 0..<w { diag += Double(h[at + i * w + i]) } }
        let lambda = damp * diag / Double(cols)
        for (b0, w, at) in parts {
            // Upper triangular, positive pivots, and U^T U (H + lambda I) = I (the dead column: 1 + lambda).
            for i in 0..<w {
                XCTAssertGreaterThan(u[at + i * w + i], 0)
                for k in 0..<i { XCTAssertEqual(u[at + i * w + k], 0, "U below its diagonal") }
            }
            for i in 0..<w {
                for k in 0..<w {
                    var s = 0.0
                    for m in 0..<w {
                        var utu = 0.0
                        for r in 0...min(i, m) { utu += Double(u[at + r * w + i]) * Double(u[at + r * w + m]) }
                        var a = Double(h[at + m * w + k]) + (m == k ? lambda : 0)
                        if b0 + m == 5 || b0 + k == 5 { a = m == k ? 1 + lambda : 0 }
                        s += utu * a
                    }
                    XCTAssertEqual(s, i == k ? 1 : 0, accuracy: 2e-3, "band \(b0): (U^T U A)[\(i)][\(k)]")
                }
            }
        }
        // The dead column is decoupled: no error is passed through it.
        for k in 6..<64 { XCTAssertEqual(u[5 * 64 + k], 0) }
    }

    func testIndefiniteOrNaNCovarianceIsRefused() {
        let cols = 32
        var h = [Float](repeating: 1, count: cols * cols)
        h[1] = 2
        h[cols] = 2  // [[1, 2], [2, 1]] in the corner: not positive semidefinite
        var u = h
        XCTAssertEqual(csimd_gptq_factor(h, Int64(cols), 32, 0, &u, 2), -1)
        var nan = [Float](repeating: 0, count: cols * cols)
        for i in 0..<cols { nan[i * cols + i] = 1 }
        nan[3 * cols + 3] = .nan
        XCTAssertEqual(csimd_gptq_factor(nan, Int64(cols), 32, 0.01, &u, 2), -1)
        XCTAssertEqual(csimd_gptq_factor(h, Int64(cols), 32, -1, &u, 2), -1)
    }

    /// Rows through csimd_rows_convert_weighted to an R16 type, with or without a factor, back to floats.
    private func convert(_ w: [Float], rows: Int, cols: Int, type: csimd_type, factor: [Float]?, band: Int) -> [Float] {
        let groupBytes = Int(csimd_type_row_bytes(Int32(type.rawValue), Int64(cols)))
        let groups = (rows + 15) / 16
        var out = [UInt8](repeating: 0, count: groups * groupBytes)
        let status = w.withUnsafeBytes { src -> Int32 in
            var m = csimd_matrix(data: src.baseAddress, rows: Int64(rows), cols: Int64(cols), row_bytes: Int64(cols * 4),
                                 type: Int32(CSIMD_TYPE_F32.rawValue))
            return (factor ?? []).withUnsafeBufferPointer { u in
                var qw = csimd_quant_weights(importance: nil, magnitude: 0, factor: factor == nil ? nil : u.baseAddress,
                                             band: Int64(band))
                return csimd_rows_convert_weighted(&m, nil, 0, Int64(rows), Int32(type.rawValue), &out, &qw, 2)
            }
        }
        XCTAssertEqual(status, 0)
        var y = [Float](repeating: 0, count: rows * cols)
        for r in 0..<rows {
            out.withUnsafeBufferPointer { o in
                y.withUnsafeMutableBufferPointer { yb in
                    let g = o.baseAddress! + (r / 16) * groupBytes, dst = yb.baseAddress! + r * cols
                    if type == CSIMD_TYPE_Q4NR16 { csimd_q4nr16_row_dequantize(g, Int64(cols / 32), Int32(r % 16), dst) }
                    else { csimd_q3nr16_row_dequantize(g, Int64(cols / 32), Int32(r % 16), dst) }
                }
            }
        }
        return y
    }

    func testUncorrelatedInputsGiveThePlainFit() {
        // H = I: U is diagonal, no error is passed on, and the sweep is exactly the plain least-squares fit.
        var rng = Rng(s: 13)
        let rows = 20, cols = 96, band = 64  // a partial group of 4 rows; a partial band of 32 columns
        let w = (0..<rows * cols).map { _ in rng.gauss() }
        var h = [Float](repeating: 0, count: Int(csimd_band_floats(Int64(cols), Int64(band))))
        for (_, bw, at) in bands(cols: cols, band: band) { for i in 0..<bw { h[at + i * bw + i] = 1 } }
        var u = h
        XCTAssertEqual(csimd_gptq_factor(h, Int64(cols), Int64(band), 0.01, &u, 2), 0)
        for type in [CSIMD_TYPE_Q4NR16, CSIMD_TYPE_Q3NR16] {
            XCTAssertEqual(convert(w, rows: rows, cols: cols, type: type, factor: u, band: band),
                           convert(w, rows: rows, cols: cols, type: type, factor: nil, band: band), "\(type)")
        }
    }

    func testCompensationLowersTheOutputError() {
        var rng = Rng(s: 14)
        let rows = 20, cols = 128, tokens = 512, band = 64
        let x = correlatedInputs(tokens: tokens, cols: cols, rng: &rng)
        let w = (0..<rows * cols).map { _ in rng.gauss() }
        var h = [Float](repeating: 0, count: Int(csimd_band_floats(Int64(cols), Int64(band))))
        _ = csimd_covariance_accumulate(x, Int64(tokens), Int64(cols), Int64(band), &h, 2)
        var u = h
        XCTAssertEqual(csimd_gptq_factor(h, Int64(cols), Int64(band), 0.01, &u, 2), 0)
        /// sum over tokens and rows of ((W - Q) x)^2: the layer's output error.
        func outputError(_ q: [Float]) -> Double {
            var e = 0.0
            for t in 0..<tokens {
                for r in 0..<rows {
                    var s = 0.0
                    for c in 0..<cols { s += Double(w[r * cols + c] - q[r * cols + c]) * Double(x[t * cols + c]) }
                    e += s * s
                }
            }
            return e
        }
        for type in [CSIMD_TYPE_Q4NR16, CSIMD_TYPE_Q3NR16] {
            let plain = outputError(convert(w, rows: rows, cols: cols, type: type, factor: nil, band: band))
            let compensated = outputError(convert(w, rows: rows, cols: cols, type: type, factor: u, band: band))
            XCTAssertLessThan(compensated, 0.8 * plain, "\(type): compensated \(compensated), plain \(plain)")
        }
    }
}
