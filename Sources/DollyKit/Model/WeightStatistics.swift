extension ModelWeights {
    /// Parameters in the network's weights.
    public var parameterCount: Int {
        var n = embedIn.rows * embedIn.cols + embedOut.rows * embedOut.cols + 2 * finalNormWeight.count
        for l in layers {
            for m in [l.qkv, l.attentionOut, l.mlpUp, l.mlpDown] { n += m.rows * m.cols }
            n += l.qkvBias.count + l.attentionOutBias.count + l.mlpUpBias.count + l.mlpDownBias.count
            n += 4 * l.inputNormWeight.count
        }
        return n
    }

    /// Bytes of weight data the network reads (matrices and vectors).
    public var weightBytes: Int {
        func bytes(_ m: WeightMatrix) -> Int { m.storageBytes }
        var n = bytes(embedIn) + bytes(embedOut) + 8 * finalNormWeight.count
        for l in layers {
            n += bytes(l.qkv) + bytes(l.attentionOut) + bytes(l.mlpUp) + bytes(l.mlpDown)
            n += 4 * (l.qkvBias.count + l.attentionOutBias.count + l.mlpUpBias.count + l.mlpDownBias.count + 4 * l.inputNormWeight.count)
        }
        return n
    }
}
