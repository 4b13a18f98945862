extension ModelWeights {
    /// Parameters in the network's weights.
    public var parameterCount: Int {
        var n = embedIn.rows * embedIn.cols + embedOut.rows * embedOut.cols + 2 * finalNormWeight.count
        for l in layers {
            for t in LayerTensor.allCases {
                if let m = t.matrix { n += l[keyPath: m].rows * l[keyPath: m].cols }
                if let v = t.vector { n += l[keyPath: v].count }
            }
        }
        return n
    }

    /// Bytes of weight data the network reads (matrices as stored, vectors as f32).
    public var weightBytes: Int {
        var n = embedIn.storageBytes + embedOut.storageBytes + 8 * finalNormWeight.count
        for l in layers {
            for t in LayerTensor.allCases {
                if let m = t.matrix { n += l[keyPath: m].storageBytes }
                if let v = t.vector { n += 4 * l[keyPath: v].count }
            }
        }
        return n
    }
}
