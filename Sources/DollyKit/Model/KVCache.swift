import CSIMD
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

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

/// One sequence's keys and values for every layer. Head-major, so that one head's positions are
/// contiguous: attention over a long context streams them instead of jumping hidden * bytes between
/// positions. Reserved as untouched zero pages: memory grows with the tokens actually cached.
public final class KVCache {
    public let type: KVCacheType
    /// Tokens the cache can hold.
    public let capacity: Int
    /// Tokens cached (positions 0..<count).
    public internal(set) var count = 0

    private let heads: Int, headDim: Int
    private let memory: ZeroPages
    private let matrixBytes: Int   // one layer's K (or V): (heads, capacity, headDim) of `type`
    private let scaleCount: Int    // q8 only: one layer's K (or V) scales, (heads, capacity)
    private let matrixStride: Int  // matrixBytes rounded up to 64
    private let scaleStride: Int   // scaleCount * 4 rounded up to 64
    private let layerBytes: Int    // K, V, then (q8) K scales, V scales

    init(config c: ModelConfig, capacity: Int, type: KVCacheType) throws {
        self.type = type
        self.capacity = capacity
        heads = c.numAttentionHeads
        headDim = c.headDim
        matrixBytes = capacity * c.hiddenSize * type.elementBytes
        scaleCount = type == .q8 ? capacity * heads : 0
        // Each part starts on a 64-byte boundary.
        matrixStride = (matrixBytes + 63) / 64 * 64
        scaleStride = (scaleCount * 4 + 63) / 64 * 64
        layerBytes = 2 * matrixStride + 2 * scaleStride
        memory = try ZeroPages(byteCount: c.numHiddenLayers * layerBytes)
    }

    /// Bytes reserved (what a full cache holds).
    public var reservedBytes: Int { memory.byteCount }

    /// Forgets every cached token and returns their pages to the system.
    public func clear() {
        count = 0
        memory.release()
    }

    /// Drops cached tokens from `position` on (e.g. to keep a shared prefix).
    public func truncate(to position: Int) { count = min(count, max(0, position)) }

    /// Part `index` of layer `layer`: 0 keys, 1 values, 2 key scales, 3 value scales.
    private func part(_ layer: Int, _ index: Int) -> UnsafeMutableRawPointer {
        let offset = index < 2 ? index * matrixStride : 2 * matrixStride + (index - 2) * scaleStride
        return memory.base + layer * layerBytes + offset
    }

    /// Stores the keys and values of one token at `position`: head j's at key + j * headStride.
    func store(layer: Int, position p: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>, headStride: Int) {
        for j in 0..<heads {
            store(part(layer, 0), scales: 2, layer: layer, position: p, head: j, from: key + j * headStride)
            store(part(layer, 1), scales: 3, layer: layer, position: p, head: j, from: value + j * headStride)
        }
    }

    private func store(_ cache: UnsafeMutableRawPointer, scales: Int, layer: Int, position p: Int, head j: Int,
                       from src: UnsafePointer<Float>) {
        let offset = (j * capacity + p) * headDim
        switch type {
        case .f16: csimd_f32_to_f16_row(src, Int64(headDim), cache.assumingMemoryBound(to: UInt16.self) + offset)
        case .f32: (cache.assumingMemoryBound(to: Float.self) + offset).update(from: src, count: headDim)
        case .q8:
            let scale = part(layer, scales).assumingMemoryBound(to: Float.self)
            scale[j * capacity + p] = csimd_kv_q8_row(src, Int64(headDim), cache.assumingMemoryBound(to: Int8.self) + offset)
        }
    }

    /// Causal attention of `n` queries at positions pos0..<pos0+n over this cache's layer `layer`
    /// (which must already hold them): query t, head j at q + t * qTokenStride + j * qHeadStride;
    /// out (n, hidden); on `threads` threads, scratch at least threads * (pos0 + n) floats.
    func attend(layer: Int, q: UnsafePointer<Float>, qTokenStride: Int, qHeadStride: Int, pos0: Int, n: Int,
                scratch: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>, threads: Int) {
        let team = Int32(threads)
        let scale = 1 / Float(headDim).squareRoot()
        let hs = Int64(capacity * headDim), ps = Int64(headDim)
        let k = part(layer, 0), v = part(layer, 1)
        switch type {
        case .f16:
            csimd_attention_f16(q, Int64(qTokenStride), Int64(qHeadStride), k.assumingMemoryBound(to: UInt16.self),
                                v.assumingMemoryBound(to: UInt16.self), Int64(heads), Int64(headDim), hs, ps,
                                Int64(pos0), Int64(n), scale, scratch, out, team)
        case .f32:
            csimd_attention_f32(q, Int64(qTokenStride), Int64(qHeadStride), k.assumingMemoryBound(to: Float.self),
                                v.assumingMemoryBound(to: Float.self), Int64(heads), Int64(headDim), hs, ps,
                                Int64(pos0), Int64(n), scale, scratch, out, team)
        case .q8:
            csimd_attention_q8(q, Int64(qTokenStride), Int64(qHeadStride), k.assumingMemoryBound(to: Int8.self),
                               part(layer, 2).assumingMemoryBound(to: Float.self), v.assumingMemoryBound(to: Int8.self),
                               part(layer, 3).assumingMemoryBound(to: Float.self), Int64(heads), Int64(headDim), hs, ps,
                               Int64(pos0), Int64(n), scale, scratch, out, team)
        }
    }
}
