#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A smaller model that guesses the target's next tokens (speculative decoding with a draft model:
/// dolly-v2-3b for 12b). It keeps its own cache of the conversation so far; each guess is its most
/// likely token. The target checks the guesses in one pass, choosing each token as it would alone,
/// so greedy output is the target's, token for token (`TokenGenerator.runSpeculative`). Sampling, a
/// guess is drawn from the draft's distribution q (after the target's own processors) and checked by
/// speculative sampling's rule (kept with probability min(1, p/q), else a draw from the residual):
/// the output follows the target's distribution exactly, from other random draws than plain decoding's.
public final class DraftModel {
    public let model: DollyModel
    public let session: InferenceSession
    /// Most tokens guessed per pass of the target.
    public let maxDraft: Int
    /// The tokens whose keys and values `session` holds, in order.
    private var held: [Int32] = []

    /// `model` must share `target`'s tokenizer (the same id for the same text), which is checked
    /// token by token.
    public init(model: DollyModel, target: DollyModel, contextLength: Int, maxDraft: Int = 4, kvType: KVCacheType = .f16,
                threads: Int = DollyModel.defaultThreads) throws {
        try Self.checkSameTokenizer(model.tokenizer, target.tokenizer)
        guard maxDraft >= 1 else { throw ModelError.invalidRequest("a draft model guesses at least one token per pass") }
        self.model = model
        self.maxDraft = maxDraft
        session = try model.network.makeSession(contextLength: min(contextLength, model.config.maxPositionEmbeddings),
                                                kvType: kvType, threads: threads)
    }

    static func checkSameTokenizer(_ a: Tokenizer, _ b: Tokenizer) throws {
        guard a.vocabularySize == b.vocabularySize else {
            throw ModelError.invalidRequest("the draft model's vocabulary has \(a.vocabularySize) tokens, the model's \(b.vocabularySize): "
                                            + "a draft must share the model's tokenizer")
        }
        guard a.addedTokens == b.addedTokens else {
            throw ModelError.invalidRequest("the draft model's added tokens differ from the model's: a draft must share its tokenizer")
        }
        for id in 0..<Int32(a.vocabularySize) where a.tokenBytes(id) != b.tokenBytes(id) {
            throw ModelError.invalidRequest("the draft model's token \(id) is not the model's: a draft must share its tokenizer")
        }
    }

    /// Forgets the cache (a new, unrelated prompt follows).
    public func reset() {
        session.reset()
        held.removeAll()
    }

    /// Up to `limit` guesses of what follows `sequence` (the target's prompt and output so far). Each
    /// is drawn, on a copy of the target's `state`, from the distribution the target would draw from
    /// given the draft's logits (the same penalties, grammar and warpers), which `proposals` records
    /// for the check; greedy, that is the draft's arg-max after the same processors.
    func draft(after sequence: [Int32], limit: Int, state: GenerationState, into draft: inout [Int32],
               proposals: inout [TokenDistribution]) throws {
        draft.removeAll(keepingCapacity: true)
        let room = session.contextLength - sequence.count
        let n = min(limit, maxDraft, room)
        guard n > 0 else { return }
        var shared = 0
        while shared < held.count, shared < sequence.count, held[shared] == sequence[shared] { shared += 1 }
        shared = min(shared, sequence.count - 1)  // the last token runs: its logits give the first guess
        session.rewind(to: shared)
        held.removeLast(held.count - shared)
        try session.evaluate(Array(sequence[shared...]))
        held.append(contentsOf: sequence[shared...])
        // Each pass proposes from its own random stream, numbered by where it starts: reproducible for a seed.
        var proposer = state.proposalCopy(stream: UInt64(sequence.count))
        while proposals.count < n { proposals.append(TokenDistribution()) }
        var single: [Int32] = [0]
        for i in 0..<n {
            guard let guess = proposer.propose(session.lastLogits, into: &proposals[i]) else { break }
            draft.append(guess)
            // A stop token or the end of the budget ends what there is to guess.
            guard !proposer.isFinished, i + 1 < n else { break }
            single[0] = guess
            try session.evaluate(single)
            held.append(guess)
        }
    }
}

/// Where a speculative decoder's guesses come from.
public enum Speculation {
    case lookup(PromptLookup)
    case draftModel(DraftModel)
    /// Only what a grammar forces (grammar jump-forward); with the others, forced tokens come first too.
    case grammar(maxDraft: Int)

    /// The draft model when there is one, else prompt lookup when asked; nil: plain decoding.
    init?(draft: DraftModel?, lookup: PromptLookup?, jumpForward: Bool = false) {
        if let draft {
            self = .draftModel(draft)
        } else if let lookup {
            self = .lookup(lookup)
        } else if jumpForward {
            self = .grammar(maxDraft: 8)
        } else {
            return nil
        }
    }

    var maxDraft: Int {
        switch self {
        case let .lookup(l): return l.maxDraft
        case let .draftModel(d): return d.maxDraft
        case let .grammar(n): return n
        }
    }

    /// Guesses after `sequence`; true when `proposals` holds the distribution each was drawn from (a
    /// draft model's), to be checked by speculative sampling, false for guesses that were not drawn
    /// (prompt lookup's, checked by the target's own choice).
    func draft(after sequence: [Int32], limit: Int, state: GenerationState, into draft: inout [Int32],
               proposals: inout [TokenDistribution]) throws -> Bool {
        switch self {
        case let .lookup(l):
            l.draft(after: sequence, limit: limit, into: &draft)
            return false
        case let .draftModel(d):
            try d.draft(after: sequence, limit: limit, state: state, into: &draft, proposals: &proposals)
            return true
        case .grammar:
            draft.removeAll(keepingCapacity: true)
            return false
        }
    }
}
