import CSIMD
import Foundation
import XCTest

/// csimd_gelu, csimd_attention_f32 / _f16 / _q8, csimd_f32_to_f16_row and csimd_kv_q8_row on every path this CPU runs.
/// Bounds: GELU |fast - GELU(x)| <= 2e-6 max(1, |x|) against a Double reference; attention
/// |fast - csimd_attention_ref| <= 1e-5 max |v| per output (f16 / q8: csimd_attention_ref on the widened or
/// dequantized cache);
/// f32 -> f16 rows bit-exact with csimd_f32_to_f16.
final class OpsTests: XCTestCase {
    private struct Rng {
        var s: UInt64
        mutating func next() -> UInt64 {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return s
        }
        mutating func uniform() -> Float { Float(next() >> 40) / 16_777_216.0 * 2 - 1 }
    }

    private static func geluRef(_ x: Float) -> Double {
        let d = Double(x)
        return 0.5 * d * (1 + erf(d / 2.0.squareRoot()))
    }

    // MARK: - GELU

    func testGeluMatchesDoubleReference() {
        var rng = Rng(s: 0x9E37_79B9_7F4A_7C15)
        var xs = [Float]()
        // Dense grid over [-12, 12] (step 2^-12), then random values of every magnitude.
        for i in -(12 << 12)...(12 << 12) { xs.append(Float(i) / 4096) }
        for _ in 0..<20_000 { xs.append(rng.uniform() * 12) }
        for _ in 0..<20_000 {
            let e = Float(Int(rng.next() % 60) - 40)  // 2^-40 ... 2^19
            xs.append(rng.uniform() * Float(pow(2.0, Double(e))))
        }
        xs += [0, -0.0, Float.leastNonzeroMagnitude, -Float.leastNonzeroMagnitude, 1e-40, -1e-40, Float.leastNormalMagnitude, -Float.leastNormalMagnitude,
               13, -13, 13.5, -13.5, 20, -20, 25, -25, 100, -100, 1e10, -1e10, Float.greatestFiniteMagnitude,
               -Float.greatestFiniteMagnitude]
        forEachKernelPath { path in
            for n in [xs.count, 1, 7, 15, 17, 33] {  // full array (threaded) and short tails
                var y = Array(xs[0..<n])
                csimd_gelu(&y, Int64(n), 2)
                var worst = 0.0
                for i in 0..<n {
                    let err = abs(Double(y[i]) - Self.geluRef(xs[i])) / max(1, abs(Double(xs[i])))
                    worst = max(worst, err)
                    if !(err <= 2e-6) { XCTFail("\(path): gelu(\(xs[i])) = \(y[i]), want \(Self.geluRef(xs[i]))"); break }
                }
                if n == xs.count { print("OpsTests gelu \(path): max err / max(1,|x|) = \(worst)") }
            }
            var s: [Float] = [.infinity, -.infinity, .nan, 0, -0.0]
            csimd_gelu(&s, Int64(s.count), 2)
            XCTAssertEqual(s[0], .infinity, path)
            XCTAssertEqual(s[1], 0, path)  // -0 or +0
            XCTAssertTrue(s[2].isNaN, path)
            XCTAssertEqual(s[3], 0, path)
            XCTAssertEqual(s[4], 0, path)
        }
    }

    func testGeluAgreesWithErffTwin() {
        var rng = Rng(s: 12345)
        let xs = (0..<100_003).map { _ in rng.uniform() * 8 }
        forEachKernelPath { path in
            var a = xs, b = xs
            csimd_gelu(&a, Int64(a.count), 3)
            csimd_gelu_ref(&b, Int64(b.count))
            for i in 0..<xs.count where abs(a[i] - b[i]) > 4e-6 * max(1, abs(xs[i])) {
                XCTFail("\(path): x \(xs[i]) fast \(a[i]) erff \(b[i])"); break
            }
        }
    }

    // MARK: - f32 -> f16 rows

    func testF16RowExact() {
        var rng = Rng(s: 777)
        var xs = [Float]()
        for _ in 0..<4000 { xs.append(rng.uniform() * Float(pow(2.0, Double(Int(rng.next() % 40) - 26)))) }
        // Halfway cases: an f16 value plus half of its ulp (ties to even up and down), and just off the tie.
        for _ in 0..<2000 {
            let h = UInt16(truncatingIfNeeded: rng.next() % 0x7BFF)  // finite halves below the largest
            let lo = csimd_f16_to_f32(h), hi = csimd_f16_to_f32(h + 1)
            let mid = (lo + hi) / 2  // exact in f32
            let sign: Float = rng.next() & 1 == 0 ? 1 : -1
            xs += [sign * mid, sign * mid.nextUp, sign * mid.nextDown]
        }
        xs += [0, -0.0, 65504, 65519.99, 65520, -65520, 1e6, .infinity, -.infinity, 5.96e-8, 2.98e-8, 2.99e-8,
               1e-10, Float.leastNonzeroMagnitude, 6.1e-5, -6.1e-5]
        forEachKernelPath { path in
            for n in [xs.count, 1, 7, 8, 15, 16, 17, 31] {
                var out = [UInt16](repeating: 0xDEAD, count: n + 1)
                csimd_f32_to_f16_row(xs, Int64(n), &out)
                for i in 0..<n where out[i] != csimd_f32_to_f16(xs[i]) {
                    XCTFail("\(path): \(xs[i]) -> \(out[i]), want \(csimd_f32_to_f16(xs[i]))"); break
                }
                XCTAssertEqual(out[n], 0xDEAD, "\(path): wrote past n = \(n)")
            }
        }
    }

    // MARK: - Attention

    private struct AttnCase {
        let nHeads: Int, headDim: Int, pos0: Int, nTokens: Int
        var width: Int { nHeads * headDim }
        var span: Int { pos0 + nTokens }
    }

    /// Runs ref and fast on random data; q is laid out with a padded token stride to exercise the strides.
    /// `threads` is the team; the scratch holds exactly that many rows, so a larger team overflows it.
    private func checkAttention(_ c: AttnCase, rng: inout Rng, path: String, threads: Int32 = 2) {
        let qTokenStride = c.width + 3, qHeadStride = c.headDim
        let q = (0..<(c.nTokens * qTokenStride)).map { _ in rng.uniform() * 2 }
        let k = (0..<(c.span * c.width)).map { _ in rng.uniform() * 2 }
        let v = (0..<(c.span * c.width)).map { _ in rng.uniform() }
        let scale = 1 / Float(c.headDim).squareRoot()
        let scratchCount = Int(threads) * c.span
        var scratch = [Float](repeating: 0, count: scratchCount)
        let nOut = c.nTokens * c.width
        let label = "\(path) heads \(c.nHeads) hd \(c.headDim) pos0 \(c.pos0) n \(c.nTokens)"

        var ref = [Float](repeating: 0, count: nOut), fast = [Float](repeating: .nan, count: nOut)
        csimd_attention_ref(q, Int64(qTokenStride), Int64(qHeadStride), k, v, Int64(c.nHeads), Int64(c.headDim),
                            Int64(c.headDim), Int64(c.width), Int64(c.pos0), Int64(c.nTokens), scale, &scratch, &ref)
        csimd_attention_f32(q, Int64(qTokenStride), Int64(qHeadStride), k, v, Int64(c.nHeads), Int64(c.headDim),
                            Int64(c.headDim), Int64(c.width), Int64(c.pos0), Int64(c.nTokens), scale, &scratch, &fast, threads)
        let vmax = v.map { abs($0) }.max() ?? 1
        for i in 0..<nOut where !(abs(fast[i] - ref[i]) <= 1e-5 * vmax) {
            XCTFail("f32 \(label): out[\(i)] \(fast[i]) ref \(ref[i])"); break
        }

        var kh = [UInt16](repeating: 0, count: k.count), vh = [UInt16](repeating: 0, count: v.count)
        csimd_f32_to_f16_row(k, Int64(k.count), &kh)
        csimd_f32_to_f16_row(v, Int64(v.count), &vh)
        let kw = kh.map { csimd_f16_to_f32($0) }, vw = vh.map { csimd_f16_to_f32($0) }
        var ref16 = [Float](repeating: 0, count: nOut), fast16 = [Float](repeating: .nan, count: nOut)
        csimd_attention_ref(q, Int64(qTokenStride), Int64(qHeadStride), kw, vw, Int64(c.nHeads), Int64(c.headDim),
                            Int64(c.headDim), Int64(c.width), Int64(c.pos0), Int64(c.nTokens), scale, &scratch, &ref16)
        csimd_attention_f16(q, Int64(qTokenStride), Int64(qHeadStride), kh, vh, Int64(c.nHeads), Int64(c.headDim),
                            Int64(c.headDim), Int64(c.width), Int64(c.pos0), Int64(c.nTokens), scale, &scratch, &fast16, threads)
        for i in 0..<nOut where !(abs(fast16[i] - ref16[i]) <= 1e-5 * vmax) {
            XCTFail("f16 \(label): out[\(i)] \(fast16[i]) ref \(ref16[i])"); break
        }

        // q8: each (position, head) row quantized by csimd_kv_q8_row; the reference runs on its dequantized values.
        let rows = c.span * c.nHeads
        var k8 = [Int8](repeating: 0, count: k.count), v8 = [Int8](repeating: 0, count: v.count)
        var ks = [Float](repeating: 0, count: rows), vs = [Float](repeating: 0, count: rows)
        k.withUnsafeBufferPointer { kp in
            v.withUnsafeBufferPointer { vp in
                k8.withUnsafeMutableBufferPointer { k8p in
                    v8.withUnsafeMutableBufferPointer { v8p in
                        for r in 0..<rows {
                            let o = r * c.headDim
                            ks[r] = csimd_kv_q8_row(kp.baseAddress! + o, Int64(c.headDim), k8p.baseAddress! + o)
                            vs[r] = csimd_kv_q8_row(vp.baseAddress! + o, Int64(c.headDim), v8p.baseAddress! + o)
                        }
                    }
                }
            }
        }
        let kq = k8.indices.map { ks[$0 / c.headDim] * Float(k8[$0]) }
        let vq = v8.indices.map { vs[$0 / c.headDim] * Float(v8[$0]) }
        var ref8 = [Float](repeating: 0, count: nOut), fast8 = [Float](repeating: .nan, count: nOut)
        csimd_attention_ref(q, Int64(qTokenStride), Int64(qHeadStride), kq, vq, Int64(c.nHeads), Int64(c.headDim),
                            Int64(c.headDim), Int64(c.width), Int64(c.pos0), Int64(c.nTokens), scale, &scratch, &ref8)
        csimd_attention_q8(q, Int64(qTokenStride), Int64(qHeadStride), k8, ks, v8, vs, Int64(c.nHeads), Int64(c.headDim),
                           Int64(c.headDim), Int64(c.width), Int64(c.pos0), Int64(c.nTokens), scale, &scratch, &fast8, threads)
        for i in 0..<nOut where !(abs(fast8[i] - ref8[i]) <= 1e-5 * vmax) {
            XCTFail("q8 \(label): out[\(i)] \(fast8[i]) ref \(ref8[i])"); break
        }
        // Head-major layout (n_heads, n_ctx, head_dim) with spare positions, as InferenceSession stores it;
        // q8 scales follow their rows (index = row offset / head_dim).
        let nCtx = c.span + 3
        func headMajor<T>(_ x: [T], _ fill: T, group: Int) -> [T] {
            var out = [T](repeating: fill, count: c.nHeads * nCtx * group)
            for p in 0..<c.span { for h in 0..<c.nHeads { for d in 0..<group {
                out[(h * nCtx + p) * group + d] = x[(p * c.nHeads + h) * group + d]
            } } }
            return out
        }
        var fastHM = [Float](repeating: .nan, count: nOut), fast8HM = fastHM
        csimd_attention_f32(q, Int64(qTokenStride), Int64(qHeadStride), headMajor(k, Float.nan, group: c.headDim),
                            headMajor(v, Float.nan, group: c.headDim), Int64(c.nHeads), Int64(c.headDim),
                            Int64(nCtx * c.headDim), Int64(c.headDim), Int64(c.pos0), Int64(c.nTokens), scale, &scratch, &fastHM, threads)
        for i in 0..<nOut where !(abs(fastHM[i] - ref[i]) <= 1e-5 * vmax) {
            XCTFail("f32 head-major \(label): out[\(i)] \(fastHM[i]) ref \(ref[i])"); break
        }
        csimd_attention_q8(q, Int64(qTokenStride), Int64(qHeadStride), headMajor(k8, Int8(0), group: c.headDim),
                           headMajor(ks, Float.nan, group: 1), headMajor(v8, Int8(0), group: c.headDim),
                           headMajor(vs, Float.nan, group: 1), Int64(c.nHeads), Int64(c.headDim),
                           Int64(nCtx * c.headDim), Int64(c.headDim), Int64(c.pos0), Int64(c.nTokens), scale, &scratch, &fast8HM, threads)
        for i in 0..<nOut where !(abs(fast8HM[i] - ref8[i]) <= 1e-5 * vmax) {
            XCTFail("q8 head-major \(label): out[\(i)] \(fast8HM[i]) ref \(ref8[i])"); break
        }

        // And the 8-bit cache stays close to the exact one. Not a kernel bound (the rounding of keys moves the
        // softmax weights by up to a few percent at head size 80): a statistical one, mean |Δ| under 0.5% of
        // max |v| and every |Δ| under 3% (measured over every path and shape: mean <= 0.21%, max 1.08%).
        var sumErr: Float = 0
        for i in 0..<nOut {
            sumErr += abs(fast8[i] - ref[i])
            if !(abs(fast8[i] - ref[i]) <= 3e-2 * vmax) { XCTFail("q8 vs f32 \(label): out[\(i)] \(fast8[i]) f32 \(ref[i])"); break }
        }
        XCTAssertLessThanOrEqual(sumErr / Float(nOut), 5e-3 * vmax, "q8 vs f32 \(label): mean error")
    }

    /// csimd_kv_q8_row: d = max|x| / 127, |d q - x| <= d / 2, all-zero and NaN rows store zeros, never past n.
    func testKVQ8RowQuantization() {
        var rng = Rng(s: 0x51DE_CAFE)
        for n in [1, 5, 16, 17, 80, 128, 131] {
            let x = (0..<n).map { _ in rng.uniform() * 3 }
            var out = [Int8](repeating: 99, count: n + 1)
            let d = csimd_kv_q8_row(x, Int64(n), &out)
            let amax = x.map { abs($0) }.max()!
            XCTAssertEqual(d, amax / 127)
            for i in 0..<n {
                XCTAssertLessThanOrEqual(abs(d * Float(out[i]) - x[i]), d / 2 * 1.0001, "n \(n) i \(i)")
            }
            XCTAssertEqual(out[n], 99, "wrote past n = \(n)")
            XCTAssertTrue(out[0..<n].contains { abs($0) == 127 }, "the largest element maps to ±127")
        }
        var zeros = [Int8](repeating: 5, count: 8)
        XCTAssertEqual(csimd_kv_q8_row([Float](repeating: 0, count: 8), 8, &zeros), 0)
        XCTAssertEqual(zeros, [Int8](repeating: 0, count: 8))
        var withNaN = [Int8](repeating: 5, count: 4)
        let d = csimd_kv_q8_row([1, .nan, -2, 0.5], 4, &withNaN)
        XCTAssertEqual(d, 2 / 127)
        XCTAssertEqual(withNaN, [64, 0, -127, 32])
    }

    func testAttentionMatchesReference() {
        var rng = Rng(s: 0xA77E_4710)
        forEachKernelPath { path in
            for headDim in [16, 80, 17, 128, 5] {
                for pos0 in [0, 37] {
                    for nTokens in [1, 5] {
                        checkAttention(AttnCase(nHeads: 3, headDim: headDim, pos0: pos0, nTokens: nTokens), rng: &rng, path: path)
                    }
                }
            }
            // Long context (many 8-position blocks and both V chunks), teams of one to three threads.
            for threads: Int32 in [1, 2, 3] {
                checkAttention(AttnCase(nHeads: 4, headDim: 80, pos0: 300, nTokens: 3), rng: &rng, path: path, threads: threads)
            }
        }
    }

    /// One position: softmax weight exactly 1, so the output is the widened V row itself. With every
    /// f16 bit pattern in V this checks the widening (incl. subnormals, inf, NaN) on each path.
    func testAttentionF16WideningExact() {
        let hd = 65536
        let vh = (0..<hd).map { UInt16($0) }
        let kh = [UInt16](repeating: 0, count: hd), q = [Float](repeating: 0, count: hd)
        forEachKernelPath { path in
            var scratch = [Float](repeating: 0, count: 2)
            var out = [Float](repeating: 0, count: hd)
            csimd_attention_f16(q, Int64(hd), Int64(hd), kh, vh, 1, Int64(hd), Int64(hd), Int64(hd), 0, 1, 1, &scratch, &out, 2)
            for i in 0..<hd {
                let want = csimd_f16_to_f32(vh[i])
                if want.isNaN ? !out[i].isNaN : out[i] != want {
                    XCTFail("\(path): f16 \(String(i, radix: 16)) -> \(out[i]), want \(want)"); break
                }
            }
        }
    }

    /// Peaked scores (one key matches the query strongly) still agree, and the weights stay finite.
    func testAttentionPeakedScores() {
        forEachKernelPath { path in
            let nHeads = 2, hd = 80, span = 40
            let width = nHeads * hd
            var k = [Float](repeating: 0, count: span * width), v = [Float](repeating: 0, count: span * width)
            var q = [Float](repeating: 0, count: width)
            for i in 0..<width { q[i] = i % 2 == 0 ? 3 : -3 }
            for p in 0..<span {
                for i in 0..<width {
                    k[p * width + i] = p == 17 ? q[i] : Float((p * 7 + i * 3) % 11) / 11 - 0.5
                    v[p * width + i] = Float(p)
                }
            }
            var scratch = [Float](repeating: 0, count: 2 * span)
            var ref = [Float](repeating: 0, count: width), fast = ref
            csimd_attention_ref(q, Int64(width), Int64(hd), k, v, Int64(nHeads), Int64(hd), Int64(hd), Int64(width), Int64(span - 1), 1, 0.1, &scratch, &ref)
            csimd_attention_f32(q, Int64(width), Int64(hd), k, v, Int64(nHeads), Int64(hd), Int64(hd), Int64(width), Int64(span - 1), 1, 0.1, &scratch, &fast, 2)
            for i in 0..<width {
                XCTAssertEqual(fast[i], 17, accuracy: 1e-4, path)
                XCTAssertEqual(fast[i], ref[i], accuracy: 1e-5 * 40, path)
            }
        }
    }
}
