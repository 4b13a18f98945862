import CSIMD
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The scratch of forward passes over up to `rows` tokens at once, from one sequence or several,
/// at positions below `context`, on `threads` threads. Allocated once, so that no token allocates memory.
final class ForwardWorkspace {
    let rows: Int
    let context: Int
    /// The team every kernel of a pass over this workspace runs (csimd.h, "Threads"): the buffers
    /// indexed by thread number are sized from it, whichever OS thread runs the pass.
    let threads: Int
    /// Rows of logits computed at once (a (rows, vocab) buffer would be 100 MB at 512 rows).
    let logitRows: Int

    /// The tokens of the pass, sequence after sequence.
    struct Segment {
        let cache: KVCache
        let firstRow: Int
        let count: Int
        /// The LoRA adapter these rows run with (nil: the base alone) and its strength (--lora-scale).
        var adapter: LoRAAdapter? = nil
        var adapterScale: Float = 1
    }
    private(set) var segments: [Segment] = []
    let ids: UnsafeMutablePointer<Int32>            // (rows)
    let positions: UnsafeMutablePointer<Int>        // (rows) each row's position in its sequence
    var count = 0                                   // rows filled

    let x: UnsafeMutablePointer<Float>              // (rows, hidden) residual stream
    let normed: UnsafeMutablePointer<Float>         // (rows, hidden)
    let qkv: UnsafeMutablePointer<Float>            // (rows, 3*hidden)
    let attention: UnsafeMutablePointer<Float>      // (rows, hidden)
    let attentionOut: UnsafeMutablePointer<Float>   // (rows, hidden)
    let mlpHidden: UnsafeMutablePointer<Float>      // (rows, intermediate)
    let mlpOut: UnsafeMutablePointer<Float>         // (rows, hidden)
    let ropeCos: UnsafeMutablePointer<Float>        // (context, rotaryDims/2)
    let ropeSin: UnsafeMutablePointer<Float>        // (context, rotaryDims/2)
    let scores: UnsafeMutablePointer<Float>         // (threads, context)
    let logits: UnsafeMutablePointer<Float>         // (logitRows, vocab)
    /// (rows, loraRank): adapters' down projections. Grown when a pass brings an adapter of a larger
    /// rank than any before (once per rank, never per token).
    private(set) var loraScratch: UnsafeMutablePointer<Float>?
    private(set) var loraRank = 0
    /// One entry per run of rows on one adapter, filled per layer matrix (LoRA groups; never reallocated:
    /// a pass has at most `rows` runs).
    let loraDeltas: UnsafeMutablePointer<csimd_lora>
    let loraGroups: UnsafeMutablePointer<csimd_lora_group>
    private var owned: [UnsafeMutablePointer<Float>] = []
    /// Sees the input of every layer matrix product, (rows, cols) row-major: `dolly imatrix`'s
    /// statistics. Nil (the default) costs one check per product.
    var activationTap: ((_ layer: Int, _ matrix: LayerTensor, _ input: UnsafePointer<Float>, _ rows: Int, _ cols: Int) -> Void)?

    init(config c: ModelConfig, rows: Int, context: Int, threads: Int, logitRows: Int = 16) {
        self.rows = max(1, rows)
        self.context = context
        self.threads = max(1, threads)
        self.logitRows = min(self.rows, max(1, logitRows))  // projection reuses (rows, hidden) buffers
        let h = c.hiddenSize, b = self.rows
        var owned: [UnsafeMutablePointer<Float>] = []
        func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            owned.append(p)
            return p
        }
        ids = .allocate(capacity: b)
        loraDeltas = .allocate(capacity: b)
        loraGroups = .allocate(capacity: b)
        positions = .allocate(capacity: b)
        x = buffer(b * h)
        normed = buffer(b * h)
        qkv = buffer(b * 3 * h)
        attention = buffer(b * h)
        attentionOut = buffer(b * h)
        mlpHidden = buffer(b * c.intermediateSize)
        mlpOut = buffer(b * h)
        let half = c.rotaryDims / 2
        ropeCos = buffer(context * half)
        ropeSin = buffer(context * half)
        // Same arithmetic as transformers: f32 inverse frequencies, f32 angle, f32 cos/sin.
        for i in 0..<half {
            let invFreq = Float(1.0) / Float(pow(Float(c.rotaryBase), Float(2 * i) / Float(c.rotaryDims)))
            for p in 0..<context {
                let angle = Float(p) * invFreq
                ropeCos[p * half + i] = cos(angle)
                ropeSin[p * half + i] = sin(angle)
            }
        }
        scores = buffer(self.threads * context)
        logits = buffer(self.logitRows * c.vocabSize)
        self.owned = owned
        segments.reserveCapacity(64)
    }

    deinit {
        ids.deallocate()
        positions.deallocate()
        loraDeltas.deallocate()
        loraGroups.deallocate()
        for p in owned { p.deallocate() }
        loraScratch?.deallocate()
    }

    /// Starts a new pass.
    func clear() {
        segments.removeAll(keepingCapacity: true)
        count = 0
    }

    /// Adds `tokens` of the sequence `cache` holds, after its cached ones; returns the first row.
    @discardableResult
    func append<C: Collection>(_ tokens: C, of cache: KVCache, adapter: LoRAAdapter? = nil,
                               adapterScale: Float = 1) -> Int where C.Element == Int32 {
        let first = count
        precondition(first + tokens.count <= rows && cache.count + tokens.count <= min(cache.capacity, context),
                     "forward pass over its workspace or cache")
        for (i, id) in tokens.enumerated() {
            ids[first + i] = id
            positions[first + i] = cache.count + i
        }
        count += tokens.count
        segments.append(Segment(cache: cache, firstRow: first, count: tokens.count, adapter: adapter, adapterScale: adapterScale))
        if let adapter, adapter.maxRank > loraRank {
            loraScratch?.deallocate()
            loraScratch = .allocate(capacity: rows * adapter.maxRank)
            loraRank = adapter.maxRank
        }
        return first
    }
}
