import CSIMD

extension GPTNeoX {
    /// A layer matrix's product with each segment's adapter delta added: out[rows] = W input[rows] + bias
    /// + S·s·B(A input[rows]), before anything reads it (rotary, GELU, residual). Consecutive segments
    /// with the same adapter and strength form one group; every group of the pass goes through the
    /// kernels in one call with the product (csimd_matrix_multiply_lora: on quantized weights each
    /// tile's deltas are added while it is in cache); rows without an adapter cost nothing.
    func adaptedProduct(_ ws: ForwardWorkspace, _ layer: Int, _ matrix: LayerTensor, _ weights: WeightMatrix,
                        _ input: UnsafePointer<Float>, _ n: Int, _ bias: [Float]?, _ out: UnsafeMutablePointer<Float>) {
        let groups = adapterGroups(ws, layer, matrix, input, out)
        guard groups > 0 else { return matmul(weights, input, n, bias, out, ws.threads) }
        let status = withUnsafePointer(to: weights.raw) { mp in
            bias.withOptionalBufferPointer { bp in
                csimd_matrix_multiply_lora(mp, input, Int64(n), bp, out, ws.loraGroups, Int64(groups), Int32(ws.threads))
            }
        }
        // Loaders only build matrices and deltas the kernels take; anything else is a bug here.
        precondition(status == 0, "no kernel for type \(weights.raw.type) with an adapter")
    }

    /// Fills ws.loraGroups with this pass's adapter groups for one layer matrix; returns their count.
    private func adapterGroups(_ ws: ForwardWorkspace, _ layer: Int, _ matrix: LayerTensor,
                               _ input: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) -> Int {
        let segments = ws.segments
        guard let scratch = ws.loraScratch else { return 0 }
        var groups = 0
        var i = 0
        while i < segments.count {
            guard let adapter = segments[i].adapter else { i += 1; continue }
            let first = segments[i].firstRow, strength = segments[i].adapterScale
            var count = segments[i].count
            var j = i + 1
            while j < segments.count, segments[j].adapter === adapter, segments[j].adapterScale == strength,
                  segments[j].firstRow == first + count {
                count += segments[j].count
                j += 1
            }
            i = j
            // Each group holds at least one row of its own, so there are never more groups than rows.
            guard count > 0, let (m, scale) = adapter.matrix(layer: layer, matrix) else { continue }
            ws.loraDeltas[groups] = m
            ws.loraGroups[groups] = csimd_lora_group(m: ws.loraDeltas + groups, x: input + first * Int(m.cols),
                                                     y: out + first * Int(m.rows), scratch: scratch + first * ws.loraRank,
                                                     n_tokens: Int64(count), scale: strength * scale)
            groups += 1
        }
        return groups
    }
}

private extension Optional where Wrapped == [Float] {
    /// The array's base address for the body, or nil without an array.
    func withOptionalBufferPointer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let array = self else { return body(nil) }
        return array.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}
