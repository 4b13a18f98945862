import CSIMD

extension GPTNeoX {
    /// Adds each segment's adapter delta to a layer matrix's product: out[rows] += S·s·B(A input[rows]),
    /// after the base product (bias included) and before anything reads it (rotary, GELU, residual).
    /// Consecutive segments with the same adapter and strength form one group; every group of the pass
    /// goes through the kernels in one call (one parallel region, however many adapters a serving step
    /// mixes); rows without an adapter cost nothing.
    func applyAdapters(_ ws: ForwardWorkspace, _ layer: Int, _ matrix: LayerTensor,
                       _ input: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        let segments = ws.segments
        guard let scratch = ws.loraScratch else { return }
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
        guard groups > 0 else { return }
        let status = csimd_lora_apply_groups(ws.loraGroups, Int64(groups), Int32(ws.threads))
        // The loader only builds deltas the kernels take; anything else is a bug here.
        precondition(status == 0, "no LoRA kernel for an adapter's type")
    }
}
