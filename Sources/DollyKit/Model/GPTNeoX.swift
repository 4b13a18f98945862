import CSIMD
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A loaded GPT-NeoX network: configuration, immutable weights and the forward pass, shareable by any
/// number of sessions. The state of a sequence is its `KVCache`; scratch is a `ForwardWorkspace`.
public final class GPTNeoX: Sendable {
    public let config: ModelConfig
    public let weights: ModelWeights

    public init(config: ModelConfig, weights: ModelWeights) {
        self.config = config
        self.weights = weights
    }

    /// A new session (KV cache and scratch) able to hold `contextLength` tokens, whose forward passes
    /// run on `threads` threads from whichever thread calls them.
    public func makeSession(contextLength: Int? = nil, batchSize: Int = 64, kvType: KVCacheType = .f16,
                            threads: Int = DollyModel.defaultThreads) throws -> InferenceSession {
        try InferenceSession(model: self, contextLength: contextLength ?? min(2048, config.maxPositionEmbeddings),
                             batchSize: batchSize, kvType: kvType, threads: threads)
    }

    /// A KV cache for one sequence of up to `capacity` tokens.
    public func makeCache(capacity: Int, type: KVCacheType = .f16) throws -> KVCache {
        guard capacity > 0, capacity <= config.maxPositionEmbeddings else {
            throw ModelError.contextLength(requested: capacity, limit: config.maxPositionEmbeddings)
        }
        return try KVCache(config: config, capacity: capacity, type: type)
    }

    /// Runs the workspace's rows through the network: each sequence's tokens go after the ones its cache
    /// holds and join it. Rows of several sequences share every matrix product (each weight is read once
    /// for all of them); attention is per sequence over its own cache. A row's arithmetic does not depend
    /// on the other rows (the kernels compute each token alone), so batching never changes a result.
    /// Leaves the final residual stream in `ws.x` for `project`.
    func forward(_ ws: ForwardWorkspace) {
        let c = config, w = weights
        let h = c.hiddenSize, n = ws.count, heads = c.numAttentionHeads, hd = c.headDim
        let half = c.rotaryDims / 2
        for t in 0..<n { w.embedIn.row(Int(ws.ids[t]), into: ws.x + t * h) }

        // Where head j's q, k and v start inside one token's qkv row.
        let interleaved = w.qkvLayout == .perHeadInterleaved
        let headStride = interleaved ? 3 * hd : hd
        let kOffset = interleaved ? hd : h
        let vOffset = interleaved ? 2 * hd : 2 * h

        for (l, layer) in w.layers.enumerated() {
            layerNorm(ws.x, n, layer.inputNormWeight, layer.inputNormBias, ws.normed)
            ws.activationTap?(l, .qkv, ws.normed, n, h)
            adaptedProduct(ws, l, .qkv, layer.qkv, ws.normed, n, layer.qkvBias, ws.qkv)
            for segment in ws.segments {
                for t in segment.firstRow..<segment.firstRow + segment.count {
                    let p = ws.positions[t], row = ws.qkv + t * 3 * h
                    if half > 0 {
                        let cosP = ws.ropeCos + p * half, sinP = ws.ropeSin + p * half
                        csimd_rotary_apply(row, Int64(heads), Int64(headStride), Int64(c.rotaryDims), cosP, sinP)
                        csimd_rotary_apply(row + kOffset, Int64(heads), Int64(headStride), Int64(c.rotaryDims), cosP, sinP)
                    }
                    segment.cache.store(layer: l, position: p, key: row + kOffset, value: row + vOffset,
                                        headStride: headStride)
                }
                let first = segment.firstRow
                segment.cache.attend(layer: l, q: ws.qkv + first * 3 * h, qTokenStride: 3 * h, qHeadStride: headStride,
                                     pos0: ws.positions[first], n: segment.count, scratch: ws.scores,
                                     out: ws.attention + first * h, threads: ws.threads)
            }
            ws.activationTap?(l, .attentionOut, ws.attention, n, h)
            adaptedProduct(ws, l, .attentionOut, layer.attentionOut, ws.attention, n, layer.attentionOutBias, ws.attentionOut)

            let x = ws.x, attentionOut = ws.attentionOut, mlpOut = ws.mlpOut
            if c.useParallelResidual {
                // x + attn(ln1(x)) + mlp(ln2(x))
                layerNorm(x, n, layer.postAttentionNormWeight, layer.postAttentionNormBias, ws.normed)
                mlp(layer, l, n, ws)
                for i in 0..<n * h { x[i] += attentionOut[i] + mlpOut[i] }
            } else {
                // h = x + attn(ln1(x)); h + mlp(ln2(h))
                for i in 0..<n * h { x[i] += attentionOut[i] }
                layerNorm(x, n, layer.postAttentionNormWeight, layer.postAttentionNormBias, ws.normed)
                mlp(layer, l, n, ws)
                for i in 0..<n * h { x[i] += mlpOut[i] }
            }
        }
        for segment in ws.segments { segment.cache.count += segment.count }
    }

    /// Final LayerNorm and output matrix for `count` (≤ logitRows) rows of the residual stream starting at
    /// `first`, into `ws.logits` (count, vocab).
    func project(_ ws: ForwardWorkspace, rowsFrom first: Int, count: Int) {
        precondition(count <= ws.logitRows)
        projectNormed(ws, ws.x + first * config.hiddenSize, count)
    }

    /// `project` for rows anywhere in the pass (the last token of each sequence in a batched step):
    /// logits row i is `rows[i]`'s. The rows share one read of the output matrix.
    func project(_ ws: ForwardWorkspace, rows: UnsafeBufferPointer<Int>) {
        precondition(rows.count <= ws.logitRows)
        let h = config.hiddenSize
        for (i, r) in rows.enumerated() { (ws.attentionOut + i * h).update(from: ws.x + r * h, count: h) }
        projectNormed(ws, ws.attentionOut, rows.count)
    }

    private func projectNormed(_ ws: ForwardWorkspace, _ rows: UnsafePointer<Float>, _ count: Int) {
        let w = weights
        layerNorm(rows, count, w.finalNormWeight, w.finalNormBias, ws.normed)
        matmul(w.embedOut, ws.normed, count, nil, ws.logits, ws.threads)
    }

    func matmul(_ m: WeightMatrix, _ input: UnsafePointer<Float>, _ n: Int, _ bias: [Float]?,
                        _ out: UnsafeMutablePointer<Float>, _ threads: Int) {
        let team = Int32(threads)
        let status = withUnsafePointer(to: m.raw) { mp in
            if let bias {
                return bias.withUnsafeBufferPointer { csimd_matrix_multiply(mp, input, Int64(n), $0.baseAddress, out, team) }
            }
            return csimd_matrix_multiply(mp, input, Int64(n), nil, out, team)
        }
        // Loaders only build matrices of types the kernels support; anything else is a bug here.
        precondition(status == 0, "no matrix kernel for type \(m.raw.type)")
    }

    private func layerNorm(_ input: UnsafePointer<Float>, _ n: Int, _ weight: [Float], _ bias: [Float],
                           _ out: UnsafeMutablePointer<Float>) {
        weight.withUnsafeBufferPointer { wp in
            bias.withUnsafeBufferPointer { bp in
                csimd_layernorm(input, Int64(n), Int64(config.hiddenSize), wp.baseAddress, bp.baseAddress,
                                Float(config.layerNormEps), out)
            }
        }
    }

    private func mlp(_ layer: LayerWeights, _ l: Int, _ n: Int, _ ws: ForwardWorkspace) {
        ws.activationTap?(l, .mlpUp, ws.normed, n, config.hiddenSize)
        adaptedProduct(ws, l, .mlpUp, layer.mlpUp, ws.normed, n, layer.mlpUpBias, ws.mlpHidden)
        csimd_gelu(ws.mlpHidden, Int64(n * config.intermediateSize), Int32(ws.threads))
        ws.activationTap?(l, .mlpDown, ws.mlpHidden, n, config.intermediateSize)
        adaptedProduct(ws, l, .mlpDown, layer.mlpDown, ws.mlpHidden, n, layer.mlpDownBias, ws.mlpOut)
    }
}

/// Which logits a forward pass should produce.
public enum LogitsRequest {
    /// Only the last token's (generation).
    case last
    /// Every token's, handed to the callback a few rows at a time: (index of the first row's token
    /// within the call, logits of shape (rows, vocab)). Used by perplexity and evaluation.
    case all((Int, UnsafeBufferPointer<Float>) throws -> Void)
}
