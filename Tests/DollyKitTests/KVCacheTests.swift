import DollyKit
import Foundation
import XCTest

/// The f16 and q8 KV caches against the f32 one, by KL divergence of the next-token distributions
/// (the same statistics `dolly perplexity --reference` prints).
final class KVCacheTests: XCTestCase {
    /// Trained demo model, held-out text: 4 windows of 256 tokens, 508 scored positions.
    /// Measured here (demo retrained 2026-11-29): f16 KL 1.9e-7, q8 KL 8.8e-5, each with one top-1 flip
    /// in 508 (q8 weights: KL 6.2e-4).
    func testDemoModelKVCacheTypesStayCloseToF32() throws {
        let root = FixturePaths.root.deletingLastPathComponent().deletingLastPathComponent()
        let model = try DollyModel.load(path: root.appendingPathComponent("models/dolly-demo").path)
        let text = try String(contentsOf: FixturePaths.root.appendingPathComponent("heldout.txt"), encoding: .utf8)
        let tokens = model.tokenizer.encode(text)
        let prefix = model.tokenizer.decode(Array(tokens.prefix(4 * 256 + 1)))
        let reference = try model.network.makeSession(contextLength: 256, kvType: .f32)
        for (kv, maxKL, minTop1) in [(KVCacheType.f16, 1e-6, 0.995), (.q8, 2e-4, 0.99)] {
            let session = try model.network.makeSession(contextLength: 256, kvType: kv)
            let r = try model.divergence(from: model, text: prefix, context: 256, session: session, referenceSession: reference)
            print("demo kv \(kv): mean KL \(r.meanKL), max \(r.maxKL), top-1 \(r.top1Agreement) over \(r.perplexity.scoredTokens) positions")
            XCTAssertLessThanOrEqual(r.meanKL, maxKL, "\(kv)")
            XCTAssertGreaterThanOrEqual(r.top1Agreement, minTop1, "\(kv)")
        }
    }

    /// Dolly's real head sizes (80 and 128; HeadShapeTests' checkpoints, sharp attention): last-position
    /// logits of every prompt with a q8 cache against an f32 one.
    func testQ8CacheAtDollyHeadSizes() throws {
        let ref = try JSONDecoder().decode(HeadShapeTests.Reference.self,
                                           from: Data(contentsOf: FixturePaths.root.appendingPathComponent("head_shapes.json")))
        for shape in ref.shapes {
            let dir = try FixturePaths.temporaryDirectory("dolly-kv-\(shape.name)")
            defer { try? FileManager.default.removeItem(at: dir) }
            try GeneratedCheckpoint.write(hidden: shape.hidden, heads: shape.heads, vocab: ref.vocab, layers: ref.layers,
                                          maxPositions: 64, to: dir)
            let model = try DollyModel.load(path: dir.path)
            let exact = try model.network.makeSession(contextLength: 64, kvType: .f32)
            let q8 = try model.network.makeSession(contextLength: 64, kvType: .q8)
            for (n, p) in shape.prompts.enumerated() {
                exact.reset()
                q8.reset()
                try exact.evaluate(p.input_ids)
                try q8.evaluate(p.input_ids)
                let a = Array(exact.lastLogits), b = Array(q8.lastLogits)
                let kl = Self.kl(a, b)
                let err = zip(a, b).map { abs($0 - $1) }.max()!
                print("\(shape.name) prompt \(n): q8 cache KL \(kl), max |Δlogit| \(err) (max |logit| \(p.max_abs_logit))")
                XCTAssertLessThanOrEqual(kl, 1e-4, "\(shape.name) prompt \(n)")
                XCTAssertLessThanOrEqual(err, 0.01 * p.max_abs_logit, "\(shape.name) prompt \(n)")
            }
        }
    }

    /// KL(softmax(p) || softmax(q)) in nats.
    /// Two passes over unsafe buffers, no intermediate arrays: tests call it for every position of
    /// a 50,280-word vocabulary in a debug build.
    static func kl(_ p: [Float], _ q: [Float]) -> Double {
        p.withUnsafeBufferPointer { p in
            q.withUnsafeBufferPointer { q in
                var mp = -Float.infinity, mq = -Float.infinity
                for i in 0..<p.count {
                    mp = max(mp, p[i])
                    mq = max(mq, q[i])
                }
                var sp = 0.0, sq = 0.0, cross = 0.0
                for i in 0..<p.count {
                    let e = exp(Double(p[i] - mp))
                    sp += e
                    sq += exp(Double(q[i] - mq))
                    cross += e * Double((p[i] - mp) - (q[i] - mq))
                }
                return cross / sp - log(sp) + log(sq)
            }
        }
    }
}
