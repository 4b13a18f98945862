import CSIMD
import Foundation

/// How the KV cache stores keys and values.
public enum KVCacheType: String, CaseIterable, Sendable {
    /// IEEE half: half the memory and bandwidth of f32, error far below the weights' quantization.
    case f16
    case f32
    /// int8 with one f32 scale per (position, head) row: 1 + 4/head_dim bytes per element, about
    /// half of f16, for long contexts on small machines.
    case q8

    /// Bytes of one element in the K or V matrix (scales not included).
    var elementBytes: Int {
        switch self {
        case .f16: return 2
        case .f32: return 4
        case .q8: return 1
        }
    }

    /// Bytes one token takes in one layer's K or V cache, scales included.
    func bytesPerToken(hidden: Int, heads: Int) -> Int {
        hidden * elementBytes + (self == .q8 ? heads * MemoryLayout<Float>.size : 0)
    }
}

/// The mutable state of one generation: KV cache, rotary tables and scratch buffers, all allocated
/// once up front so that no token allocates memory.
public final class InferenceSession {
    public let model: GPTNeoX
    /// Tokens the KV cache can hold.
    public let contextLength: Int
    /// Tokens processed per forward step of a long prompt.
    public let batchSize: Int
    /// Number of tokens already in the KV cache.
    public private(set) var position = 0
    public let kvType: KVCacheType

    // Head-major, so that one head's positions are contiguous: attention over a long context streams
    // them instead of jumping hidden*bytes between positions (a new page per position at 3b size).
    private let keys: [UnsafeMutableRawPointer]         // per layer (heads, context, headDim) of kvType
    private let values: [UnsafeMutableRawPointer]       // per layer (heads, context, headDim) of kvType
    private let keyScales: [UnsafeMutablePointer<Float>]   // q8 only: per layer (heads, context)
    private let valueScales: [UnsafeMutablePointer<Float>] // q8 only: per layer (heads, context)
    private let ropeCos: UnsafeMutablePointer<Float>    // (context, rotaryDims/2)
    private let ropeSin: UnsafeMutablePointer<Float>    // (context, rotaryDims/2)
    private let x: UnsafeMutablePointer<Float>          // (batch, hidden) residual stream
    private let normed: UnsafeMutablePointer<Float>     // (batch, hidden)
    private let qkv: UnsafeMutablePointer<Float>        // (batch, 3*hidden)
    private let attention: UnsafeMutablePointer<Float>  // (batch, hidden)
    private let attentionOut: UnsafeMutablePointer<Float> // (batch, hidden)
    private let mlpHidden: UnsafeMutablePointer<Float>  // (batch, intermediate)
    private let mlpOut: UnsafeMutablePointer<Float>     // (batch, hidden)
    private let scores: UnsafeMutablePointer<Float>     // (threads, context)
    private let scoreThreads: Int
    /// Rows of logits computed at once for `.all` (a (batch, vocab) buffer would be 100 MB at batch 512).
    static let logitRows = 16
    /// (logitRows, vocab); the first row for `.last`.
    private let logitsBuffer: UnsafeMutablePointer<Float>

    /// Bytes of the KV cache.
    public var kvCacheBytes: Int {
        let c = model.config
        return 2 * c.numHiddenLayers * contextLength * kvType.bytesPerToken(hidden: c.hiddenSize, heads: c.numAttentionHeads)
    }

    init(model: GPTNeoX, contextLength: Int, batchSize: Int, kvType: KVCacheType = .f16) throws {
        let c = model.config
        guard contextLength > 0 else { throw ModelError.contextLength(requested: contextLength, limit: c.maxPositionEmbeddings) }
        guard contextLength <= c.maxPositionEmbeddings else {
            throw ModelError.contextLength(requested: contextLength, limit: c.maxPositionEmbeddings)
        }
        self.model = model
        self.contextLength = contextLength
        self.batchSize = max(1, batchSize)
        self.kvType = kvType
        let h = c.hiddenSize, b = self.batchSize
        func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            return p
        }
        func cache() -> UnsafeMutableRawPointer {
            let bytes = max(1, contextLength * h * kvType.elementBytes)
            let p = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            p.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
            return p
        }
        keys = (0..<c.numHiddenLayers).map { _ in cache() }
        values = (0..<c.numHiddenLayers).map { _ in cache() }
        let scaleCount = kvType == .q8 ? contextLength * c.numAttentionHeads : 0
        keyScales = (0..<(scaleCount > 0 ? c.numHiddenLayers : 0)).map { _ in buffer(scaleCount) }
        valueScales = (0..<(scaleCount > 0 ? c.numHiddenLayers : 0)).map { _ in buffer(scaleCount) }
        let half = c.rotaryDims / 2
        ropeCos = buffer(contextLength * half)
        ropeSin = buffer(contextLength * half)
        // Same arithmetic as transformers: f32 inverse frequencies, f32 angle, f32 cos/sin.
        for i in 0..<half {
            let invFreq = Float(1.0) / Float(pow(Float(c.rotaryBase), Float(2 * i) / Float(c.rotaryDims)))
            for p in 0..<contextLength {
                let angle = Float(p) * invFreq
                ropeCos[p * half + i] = cos(angle)
                ropeSin[p * half + i] = sin(angle)
            }
        }
        x = buffer(b * h)
        normed = buffer(b * h)
        qkv = buffer(b * 3 * h)
        attention = buffer(b * h)
        attentionOut = buffer(b * h)
        mlpHidden = buffer(b * c.intermediateSize)
        mlpOut = buffer(b * h)
        scoreThreads = Int(csimd_threads_get())
        scores = buffer(scoreThreads * contextLength)
        logitsBuffer = buffer(min(b, Self.logitRows) * c.vocabSize)
    }

    deinit {
        for p in keys + values { p.deallocate() }
        for p in keyScales + valueScales + [ropeCos, ropeSin, x, normed, qkv, attention, attentionOut, mlpHidden, mlpOut, scores, logitsBuffer] {
            p.deallocate()
        }
    }

    /// Forgets every cached token.
    public func reset() { position = 0 }

    /// Drops cached tokens after `newPosition` (e.g. to reuse a shared prefix).
    public func rewind(to newPosition: Int) {
        position = min(position, max(0, newPosition))
    }

    /// The last token's logits from the most recent `evaluate(_:logits: .last)`, (vocab).
    public var lastLogits: UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: logitsBuffer, count: model.config.vocabSize)
    }

    /// Runs `tokens` through the network after the cached ones, appending them to the KV cache.
    public func evaluate(_ tokens: [Int32], logits: LogitsRequest = .last) throws {
        guard !tokens.isEmpty else { throw ModelError.emptyPrompt }
        guard position + tokens.count <= contextLength else {
            throw ModelError.contextFull(limit: contextLength)
        }
        let vocab = model.config.vocabSize
        for t in tokens where t < 0 || Int(t) >= vocab {
            throw ModelError.badTensor(name: "input", reason: "token id \(t) is outside the vocabulary (\(vocab))")
        }
        guard Int(csimd_threads_get()) <= scoreThreads else {
            throw ModelError.badConfig("thread count raised after the session was created")
        }
        var start = 0
        while start < tokens.count {
            let n = min(batchSize, tokens.count - start)
            let isLast = start + n == tokens.count
            tokens.withUnsafeBufferPointer { ids in
                forwardBatch(UnsafeBufferPointer(rebasing: ids[start..<start + n]))
            }
            switch logits {
            case .last:
                if isLast { project(rowsFrom: n - 1, count: 1) }
            case let .all(consume):
                var row = 0
                while row < n {
                    let m = min(Self.logitRows, n - row)
                    project(rowsFrom: row, count: m)
                    try consume(start + row, UnsafeBufferPointer(start: logitsBuffer, count: m * vocab))
                    row += m
                }
            }
            start += n
        }
    }

    /// Final LayerNorm and output matrix for `count` (≤ logitRows) rows of the residual stream starting at `first`.
    private func project(rowsFrom first: Int, count: Int) {
        let c = model.config, w = model.weights, h = c.hiddenSize
        let rows = x + first * h
        w.finalNormWeight.withUnsafeBufferPointer { nw in
            w.finalNormBias.withUnsafeBufferPointer { nb in
                csimd_layernorm(rows, Int64(count), Int64(h), nw.baseAddress, nb.baseAddress, Float(c.layerNormEps), normed)
            }
        }
        matmul(w.embedOut, normed, count, nil, logitsBuffer)
    }

    private func matmul(_ m: WeightMatrix, _ input: UnsafePointer<Float>, _ n: Int, _ bias: [Float]?,
                        _ out: UnsafeMutablePointer<Float>) {
        let status = withUnsafePointer(to: m.raw) { mp in
            if let bias {
                return bias.withUnsafeBufferPointer { csimd_matrix_multiply(mp, input, Int64(n), $0.baseAddress, out) }
            }
            return csimd_matrix_multiply(mp, input, Int64(n), nil, out)
        }
        // Loaders only build matrices of types the kernels support; anything else is a bug here.
        precondition(status == 0, "no matrix kernel for type \(m.raw.type)")
    }

    private func layerNorm(_ input: UnsafePointer<Float>, _ n: Int, _ weight: [Float], _ bias: [Float],
                           _ out: UnsafeMutablePointer<Float>) {
        let c = model.config
        weight.withUnsafeBufferPointer { wp in
            bias.withUnsafeBufferPointer { bp in
                csimd_layernorm(input, Int64(n), Int64(c.hiddenSize), wp.baseAddress, bp.baseAddress,
                                Float(c.layerNormEps), out)
            }
        }
    }

    private func forwardBatch(_ ids: UnsafeBufferPointer<Int32>) {
        let c = model.config, w = model.weights
        let h = c.hiddenSize, n = ids.count, heads = c.numAttentionHeads, hd = c.headDim
        let half = c.rotaryDims / 2
        for (t, id) in ids.enumerated() { w.embedIn.row(Int(id), into: x + t * h) }

        // Where head j's q, k and v start inside one token's qkv row.
        let interleaved = w.qkvLayout == .perHeadInterleaved
        let headStride = interleaved ? 3 * hd : hd
        let kOffset = interleaved ? hd : h
        let vOffset = interleaved ? 2 * hd : 2 * h

        for (l, layer) in w.layers.enumerated() {
            layerNorm(x, n, layer.inputNormWeight, layer.inputNormBias, normed)
            matmul(layer.qkv, normed, n, layer.qkvBias, qkv)
            for t in 0..<n {
                let p = position + t
                let row = qkv + t * 3 * h
                if half > 0 {
                    csimd_rotary_apply(row, Int64(heads), Int64(headStride), Int64(c.rotaryDims), ropeCos + p * half, ropeSin + p * half)
                    csimd_rotary_apply(row + kOffset, Int64(heads), Int64(headStride), Int64(c.rotaryDims), ropeCos + p * half, ropeSin + p * half)
                }
                for j in 0..<heads {
                    storeKV(layer: l, keys: true, position: p, head: j, from: row + kOffset + j * headStride)
                    storeKV(layer: l, keys: false, position: p, head: j, from: row + vOffset + j * headStride)
                }
            }
            let scale = 1 / Float(hd).squareRoot()
            let kvHeadStride = Int64(contextLength * hd), kvPosStride = Int64(hd)
            switch kvType {
            case .f16:
                csimd_attention_f16(qkv, Int64(3 * h), Int64(headStride), keys[l].assumingMemoryBound(to: UInt16.self),
                                    values[l].assumingMemoryBound(to: UInt16.self), Int64(heads), Int64(hd),
                                    kvHeadStride, kvPosStride, Int64(position), Int64(n), scale, scores, attention)
            case .f32:
                csimd_attention_f32(qkv, Int64(3 * h), Int64(headStride), keys[l].assumingMemoryBound(to: Float.self),
                                    values[l].assumingMemoryBound(to: Float.self), Int64(heads), Int64(hd),
                                    kvHeadStride, kvPosStride, Int64(position), Int64(n), scale, scores, attention)
            case .q8:
                csimd_attention_q8(qkv, Int64(3 * h), Int64(headStride), keys[l].assumingMemoryBound(to: Int8.self),
                                   keyScales[l], values[l].assumingMemoryBound(to: Int8.self), valueScales[l],
                                   Int64(heads), Int64(hd), kvHeadStride, kvPosStride, Int64(position), Int64(n),
                                   scale, scores, attention)
            }
            matmul(layer.attentionOut, attention, n, layer.attentionOutBias, attentionOut)

            if c.useParallelResidual {
                // x + attn(ln1(x)) + mlp(ln2(x))
                layerNorm(x, n, layer.postAttentionNormWeight, layer.postAttentionNormBias, normed)
                mlp(layer, n)
                for i in 0..<n * h { x[i] += attentionOut[i] + mlpOut[i] }
            } else {
                // h = x + attn(ln1(x)); h + mlp(ln2(h))
                for i in 0..<n * h { x[i] += attentionOut[i] }
                layerNorm(x, n, layer.postAttentionNormWeight, layer.postAttentionNormBias, normed)
                mlp(layer, n)
                for i in 0..<n * h { x[i] += mlpOut[i] }
            }
        }
        position += n
    }

    /// Writes one head's new key or value row (head_dim floats) into layer `layer`'s cache.
    private func storeKV(layer: Int, keys isKey: Bool, position p: Int, head j: Int, from src: UnsafePointer<Float>) {
        let c = model.config, hd = c.headDim
        let cache = isKey ? keys[layer] : values[layer]
        let offset = (j * contextLength + p) * hd
        switch kvType {
        case .f16: csimd_f32_to_f16_row(src, Int64(hd), cache.assumingMemoryBound(to: UInt16.self) + offset)
        case .f32: (cache.assumingMemoryBound(to: Float.self) + offset).update(from: src, count: hd)
        case .q8:
            let scales = isKey ? keyScales[layer] : valueScales[layer]
            scales[j * contextLength + p] = csimd_kv_q8_row(src, Int64(hd), cache.assumingMemoryBound(to: Int8.self) + offset)
        }
    }

    private func mlp(_ layer: LayerWeights, _ n: Int) {
        matmul(layer.mlpUp, normed, n, layer.mlpUpBias, mlpHidden)
        csimd_gelu(mlpHidden, Int64(n * model.config.intermediateSize))
        matmul(layer.mlpDown, mlpHidden, n, layer.mlpDownBias, mlpOut)
    }
}
