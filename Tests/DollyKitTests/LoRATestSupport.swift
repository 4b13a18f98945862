import CSIMD
import Foundation
import XCTest
@testable import DollyKit

/// f32 copies of the demo model's weights, adapters with random deltas, and merged models to compare
/// the run-time path with.
enum LoRATestSupport {
    final class Floats {
        let p: UnsafeMutablePointer<Float>
        init(_ v: [Float]) { p = .allocate(capacity: max(1, v.count)); p.initialize(from: v, count: v.count) }
        deinit { p.deallocate() }
    }

    static func floats(_ m: WeightMatrix) -> [Float] {
        var out = [Float](repeating: 0, count: m.rows * m.cols)
        out.withUnsafeMutableBufferPointer { b in for r in 0..<m.rows { m.row(r, into: b.baseAddress! + r * m.cols) } }
        return out
    }

    static func matrix(_ v: [Float], rows: Int, cols: Int) -> WeightMatrix {
        let f = Floats(v)
        return WeightMatrix(raw: csimd_matrix(data: f.p, rows: Int64(rows), cols: Int64(cols), row_bytes: Int64(cols * 4),
                                              type: Int32(CSIMD_TYPE_F32.rawValue)), owner: f)
    }

    /// Rows of (rows, cols) reordered: output row r is input row map[r].
    static func permuteRows(_ v: [Float], cols: Int, _ map: [Int64]) -> [Float] {
        var out = [Float](repeating: 0, count: v.count)
        for (r, src) in map.enumerated() { for c in 0..<cols { out[r * cols + c] = v[Int(src) * cols + c] } }
        return out
    }

    /// The demo model in f32, in `layout`, with each layer matrix plus `deltas[layer, matrix]` (HF row order).
    static func model(_ base: DollyModel, layout: QKVLayout, plus deltas: [AdapterDelta] = []) -> GPTNeoX {
        let c = base.config, w = base.network.weights
        precondition(w.qkvLayout == .perHeadInterleaved)
        let map = Converter.splitQKVRowMap(hidden: c.hiddenSize, heads: c.numAttentionHeads)
        var layers: [LayerWeights] = []
        for (l, layer) in w.layers.enumerated() {
            var lw = layer
            func adapted(_ m: WeightMatrix, _ t: LayerTensor) -> [Float] {
                var v = floats(m)
                if let d = deltas.first(where: { $0.layer == l && $0.matrix == t }) {
                    for (i, x) in d.merged().enumerated() { v[i] += x }
                }
                return v
            }
            var qkv = adapted(layer.qkv, .qkv)
            if layout == .split {
                qkv = permuteRows(qkv, cols: c.hiddenSize, map)
                lw.qkvBias = map.map { layer.qkvBias[Int($0)] }
            }
            lw.qkv = matrix(qkv, rows: 3 * c.hiddenSize, cols: c.hiddenSize)
            lw.attentionOut = matrix(adapted(layer.attentionOut, .attentionOut), rows: c.hiddenSize, cols: c.hiddenSize)
            lw.mlpUp = matrix(adapted(layer.mlpUp, .mlpUp), rows: c.intermediateSize, cols: c.hiddenSize)
            lw.mlpDown = matrix(adapted(layer.mlpDown, .mlpDown), rows: c.hiddenSize, cols: c.intermediateSize)
            layers.append(lw)
        }
        let weights = ModelWeights(embedIn: w.embedIn, layers: layers, finalNormWeight: w.finalNormWeight,
                                   finalNormBias: w.finalNormBias, embedOut: w.embedOut, qkvLayout: layout)
        return GPTNeoX(config: c, weights: weights)
    }

    /// Random deltas on every layer matrix (ranks vary; one layer's mlp.down left out), values already
    /// rounded to f16 so the file holds exactly what the merge adds.
    static func deltas(_ c: ModelConfig, seed: UInt64 = 1, amplitude: Float = 0.08) -> [AdapterDelta] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func gauss() -> Float {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            let u1 = (Double(s >> 11) + 1) / 9_007_199_254_740_993.0
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            let u2 = Double(s >> 11) / 9_007_199_254_740_992.0
            return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
        }
        func f16(_ x: Float) -> Float { csimd_f16_to_f32(csimd_f32_to_f16(x)) }
        var out: [AdapterDelta] = []
        for l in 0..<c.numHiddenLayers {
            for (i, m) in AdapterDelta.matrices.enumerated() where !(l == 1 && m == .mlpDown) {
                let rank = [4, 3, 8, 1][(l + i) % 4], shape = m.shape(c)
                let a = (0..<rank * shape[1]).map { _ in f16(gauss() * amplitude) }
                let b = (0..<shape[0] * rank).map { _ in f16(gauss() * amplitude) }
                out.append(AdapterDelta(layer: l, matrix: m, rank: rank, a: a, b: b, scale: 2))
            }
        }
        return out
    }

    /// `deltas` as a q8 file stores them: A's rows and B's transposed (split-order) rows through q8 and back.
    static func q8RoundTrip(_ deltas: [AdapterDelta], _ c: ModelConfig) -> [AdapterDelta] {
        let map = Converter.splitQKVRowMap(hidden: c.hiddenSize, heads: c.numAttentionHeads)
        func roundTrip(_ v: [Float], cols: Int) -> [Float] {
            let rows = v.count / cols, nb = cols / 32
            var blocks = [csimd_block_q8](repeating: csimd_block_q8(), count: rows * nb)
            var out = [Float](repeating: 0, count: v.count)
            blocks.withUnsafeMutableBufferPointer { q in
                for r in 0..<rows {
                    v.withUnsafeBufferPointer { csimd_q8_quantize_ref($0.baseAddress! + r * cols, Int64(cols), q.baseAddress! + r * nb) }
                    out.withUnsafeMutableBufferPointer { csimd_q8_dequantize_ref(q.baseAddress! + r * nb, Int64(cols), $0.baseAddress! + r * cols) }
                }
            }
            return out
        }
        return deltas.map { d in
            var d = d
            let outputs = d.b.count / d.rank, inputs = d.a.count / d.rank
            d.a = roundTrip(d.a, cols: inputs)
            var bt = [Float](repeating: 0, count: d.b.count)
            for r in 0..<outputs {
                let src = d.matrix == .qkv ? Int(map[r]) : r
                for k in 0..<d.rank { bt[k * outputs + r] = d.b[src * d.rank + k] }
            }
            bt = roundTrip(bt, cols: outputs)
            for r in 0..<outputs {
                let src = d.matrix == .qkv ? Int(map[r]) : r
                for k in 0..<d.rank { d.b[src * d.rank + k] = bt[k * outputs + r] }
            }
            return d
        }
    }

    /// Every row's logits of `tokens` (evaluated `batch` tokens per pass).
    static func logits(_ model: GPTNeoX, _ tokens: [Int32], adapter: LoRAAdapter? = nil, strength: Float = 1,
                       batch: Int = 64) throws -> [Float] {
        let session = try model.makeSession(contextLength: 128, batchSize: batch, threads: 2)
        session.adapter = adapter
        session.adapterScale = strength
        var out: [Float] = []
        try session.evaluate(tokens, logits: .all { _, rows in out += rows })
        return out
    }
}
