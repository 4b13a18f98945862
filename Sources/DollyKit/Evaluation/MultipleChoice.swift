#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The seven zero-shot tasks of Dolly's model card.
public enum EvalTask: String, CaseIterable, Sendable {
    case hellaswag, piqa, arc_easy, arc_challenge, openbookqa, winogrande, boolq

    /// The harness reports acc_norm for every task but these two.
    public var reportsNormalized: Bool { self != .winogrande && self != .boolq }
}

/// One multiple-choice item, as tools/fixtures/export_eval_sets.py writes it (lm-evaluation-harness templates
/// applied): each choice is a (context, continuation) pair scored by the continuation's log-likelihood.
public struct EvalItem: Sendable {
    public var pairs: [(context: String, continuation: String)]
    public var label: Int
    /// acc_norm's divisor per choice: its length in characters without the leading space.
    public var normLengths: [Int]

    struct Raw: Decodable {
        var context: String?
        var choices: [String]?
        var contexts: [String]?
        var continuation: String?
        var label: Int
    }

    /// Reads a JSONL file of items; a malformed line is an error naming it.
    public static func load(path: String, limit: Int? = nil) throws -> [EvalItem] {
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError.missingFile(path) }
        var items: [EvalItem] = []
        for (n, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() where !line.isEmpty {
            if let limit, items.count >= limit { break }
            guard let raw = try? JSONDecoder().decode(Raw.self, from: Data(line)) else {
                throw EvaluationError.badItem(path: path, line: n + 1, reason: "not an evaluation item")
            }
            let item: EvalItem
            if let context = raw.context, let choices = raw.choices {
                item = EvalItem(pairs: choices.map { (context, $0) }, label: raw.label,
                                normLengths: choices.map { $0.unicodeScalars.count - 1 })
            } else if let contexts = raw.contexts, let continuation = raw.continuation {
                item = EvalItem(pairs: contexts.map { ($0, continuation) }, label: raw.label,
                                normLengths: contexts.map { _ in continuation.unicodeScalars.count - 1 })
            } else {
                throw EvaluationError.badItem(path: path, line: n + 1, reason: "needs context+choices or contexts+continuation")
            }
            guard item.pairs.count >= 2, item.label >= 0, item.label < item.pairs.count else {
                throw EvaluationError.badItem(path: path, line: n + 1,
                                                reason: "label \(raw.label) does not name one of \(item.pairs.count) choices")
            }
            items.append(item)
        }
        return items
    }
}

/// The scores of one item.
public struct EvalScore: Sendable {
    /// Summed log-probability of each choice's continuation tokens.
    public var logprobs: [Double]
    public var label: Int
    /// argmax of logprobs (the first of equal maxima, like numpy).
    public var prediction: Int
    /// argmax of logprobs / normLength.
    public var normalizedPrediction: Int
}

extension DollyModel {
    /// The harness's split of a pair into context and continuation tokens: trailing spaces of the
    /// context move to the continuation, the continuation is what encoding the whole adds after the
    /// context's own encoding.
    public func loglikelihoodTokens(context: String, continuation: String) -> (context: [Int32], continuation: [Int32]) {
        var ctx = context, cont = continuation
        let spaces = ctx.reversed().prefix { $0 == " " }.count
        if spaces > 0 {
            cont = String(ctx.suffix(spaces)) + cont
            ctx = String(ctx.dropLast(spaces))
        }
        let whole = tokenizer.encode(ctx + cont)
        let ctxIds = tokenizer.encode(ctx)
        return (ctxIds, Array(whole.dropFirst(min(ctxIds.count, whole.count))))
    }

    /// Sum of log p(continuation | context) under the model, with the harness's left truncation to
    /// the session's context length.
    public func loglikelihood(context ctx: [Int32], continuation cont: [Int32], session: InferenceSession) throws -> Double {
        guard !cont.isEmpty else { return 0 }
        var full = ctx + cont
        let window = session.contextLength
        if full.count > window + 1 { full = Array(full.suffix(window + 1)) }
        let input = Array(full.dropLast())
        guard !input.isEmpty else { return 0 }
        let vocab = config.vocabSize
        let firstScored = input.count - cont.count   // position whose logits predict cont[0]
        var total = 0.0
        session.reset()
        try session.evaluate(input, logits: .all { start, logits in
            for r in 0..<logits.count / vocab {
                let pos = start + r
                guard pos >= firstScored else { continue }
                let target = Int(full[pos + 1])
                total += LogProb.of(target, in: UnsafeBufferPointer(rebasing: logits[r * vocab..<(r + 1) * vocab]))
            }
        })
        return total
    }

    /// Scores one item: every choice's continuation log-likelihood, then acc and acc_norm predictions.
    public func score(_ item: EvalItem, session: InferenceSession) throws -> EvalScore {
        var lps: [Double] = []
        for pair in item.pairs {
            let (ctx, cont) = loglikelihoodTokens(context: pair.context, continuation: pair.continuation)
            lps.append(try loglikelihood(context: ctx, continuation: cont, session: session))
        }
        func argmax(_ v: [Double]) -> Int { v.indices.reduce(0) { v[$1] > v[$0] ? $1 : $0 } }
        let norm = zip(lps, item.normLengths).map { $0 / Double(max($1, 1)) }
        return EvalScore(logprobs: lps, label: item.label, prediction: argmax(lps), normalizedPrediction: argmax(norm))
    }
}
