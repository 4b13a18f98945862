extension ModelWeights {
    /// Binds the weights of a `.dolly` file in place.
    public init(file: DollyFile) throws {
        let c = file.config
        let h = c.hiddenSize, v = c.vocabSize
        let layers = try (0..<c.numHiddenLayers).map { i in
            try LayerWeights(
                vector: { t in try file.vector(FileTensorName.layer(i, t.fileSuffix), count: t.shape(c)[0]) },
                matrix: { t in
                    let s = t.shape(c)
                    return try file.matrix(FileTensorName.layer(i, t.fileSuffix), rows: s[0], cols: s[1])
                })
        }
        self.init(
            embedIn: try file.matrix(FileTensorName.embedIn, rows: v, cols: h),
            layers: layers,
            finalNormWeight: try file.vector(FileTensorName.finalNormWeight, count: h),
            finalNormBias: try file.vector(FileTensorName.finalNormBias, count: h),
            embedOut: try file.matrix(FileTensorName.embedOut, rows: v, cols: h),
            qkvLayout: .split)
    }
}
