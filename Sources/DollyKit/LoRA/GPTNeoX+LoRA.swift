import CSIMD

extension GPTNeoX {
    /// Adds each segment's adapter delta to a layer matrix's product: out[rows] += S·s·B(A input[rows]),
    /// after the base product (bias included) and before anything reads it (rotary, GELU, residual).
    /// Consecutive segments with the same adapter and strength go through the kernels together, so a
    /// batch of slots on one adapter costs one call; rows without an adapter cost nothing.
    func applyAdapters(_ ws: ForwardWorkspace, _ layer: Int, _ matrix: LayerTensor,
                       _ input: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        let segments = ws.segments
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
            guard let (m, scale) = adapter.matrix(layer: layer, matrix), let scratch = ws.loraScratch else { continue }
            let status = withUnsafePointer(to: m) { mp in
                csimd_lora_apply(mp, input + first * Int(m.cols), Int64(count), strength * scale, scratch,
                                 out + first * Int(m.rows), Int32(ws.threads))
            }
            // The loader only builds deltas the kernels take; anything else is a bug here.
            precondition(status == 0, "no LoRA kernel for type \(m.type)")
        }
    }
}
