import CSIMD
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One sequence being run: its KV cache and the scratch of its forward passes, both allocated once up
/// front so that no token allocates memory.
public final class InferenceSession {
    public let model: GPTNeoX
    /// Tokens the KV cache can hold.
    public let contextLength: Int
    /// Tokens processed per forward step of a long prompt.
    public let batchSize: Int
    /// Threads every forward pass runs on, whichever thread calls `evaluate`.
    public var threads: Int { workspace.threads }
    public var kvType: KVCacheType { cache.type }
    /// The sequence's keys and values.
    public let cache: KVCache
    private let workspace: ForwardWorkspace

    /// Sees every layer matrix product's input (the importance matrix's statistics).
    var activationTap: ((Int, LayerTensor, UnsafePointer<Float>, Int, Int) -> Void)? {
        get { workspace.activationTap }
        set { workspace.activationTap = newValue }
    }

    /// The LoRA adapter every pass runs with (nil: the base alone) and its strength, S in
    /// y += S·(alpha/r)·B(A x). The cached keys and values were computed with the adapter of their
    /// time, so changing either forgets them.
    public var adapter: LoRAAdapter? {
        didSet { if adapter !== oldValue { reset() } }
    }
    public var adapterScale: Float = 1 {
        didSet { if adapterScale != oldValue { reset() } }
    }

    /// Number of tokens already in the KV cache.
    public var position: Int { cache.count }

    /// Bytes the KV cache reserves (taken from the system only as tokens fill it).
    public var kvCacheBytes: Int { cache.reservedBytes }

    init(model: GPTNeoX, contextLength: Int, batchSize: Int, kvType: KVCacheType = .f16, threads: Int) throws {
        self.model = model
        self.contextLength = contextLength
        self.batchSize = max(1, batchSize)
        cache = try model.makeCache(capacity: contextLength, type: kvType)
        workspace = ForwardWorkspace(config: model.config, rows: self.batchSize, context: contextLength, threads: threads)
    }

    /// Forgets every cached token.
    public func reset() { cache.truncate(to: 0) }

    /// Drops cached tokens after `newPosition` (e.g. to reuse a shared prefix).
    public func rewind(to newPosition: Int) { cache.truncate(to: newPosition) }

    /// The last token's logits from the most recent `evaluate(_:logits: .last)`, (vocab).
    public var lastLogits: UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: workspace.logits, count: model.config.vocabSize)
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
        var start = 0
        while start < tokens.count {
            let n = min(batchSize, tokens.count - start)
            workspace.clear()
            workspace.append(tokens[start..<start + n], of: cache, adapter: adapter, adapterScale: adapterScale)
            model.forward(workspace)
            switch logits {
            case .last:
                if start + n == tokens.count { model.project(workspace, rowsFrom: n - 1, count: 1) }
            case let .all(consume):
                var row = 0
                while row < n {
                    let m = min(workspace.logitRows, n - row)
                    model.project(workspace, rowsFrom: row, count: m)
                    try consume(start + row, UnsafeBufferPointer(start: workspace.logits, count: m * vocab))
                    row += m
                }
            }
            start += n
        }
    }
}
