import CSIMD
import Foundation

/// A loaded GPT-NeoX network: immutable weights, shareable by any number of `InferenceSession`s.
public final class GPTNeoX: Sendable {
    public let config: ModelConfig
    public let weights: ModelWeights

    public init(config: ModelConfig, weights: ModelWeights) {
        self.config = config
        self.weights = weights
    }

    /// A new session (KV cache and scratch) able to hold `contextLength` tokens.
    public func makeSession(contextLength: Int? = nil, batchSize: Int = 64, kvType: KVCacheType = .f16) throws -> InferenceSession {
        try InferenceSession(model: self, contextLength: contextLength ?? min(2048, config.maxPositionEmbeddings),
                             batchSize: batchSize, kvType: kvType)
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
