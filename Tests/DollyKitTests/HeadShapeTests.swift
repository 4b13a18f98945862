import DollyKit
import Foundation
import XCTest

/// Logits against transformers for the head geometry of the real Dolly sizes: 80-dim heads with 20
/// rotary dims (3b) and 128-dim heads with 32 rotary dims (7b, 12b), plus 16-dim heads; weights
/// scaled so attention is sharp (a rotary base of 20000 instead of 10000 fails this test). The bf16 weights are rebuilt
/// (GeneratedCheckpoint) from the same counter-based generator tools/fixtures/make_head_shape_reference.py used, so only the
/// reference logits are committed (Tests/Fixtures/head_shapes.json).
final class HeadShapeTests: XCTestCase {
    struct Case: Decodable {
        let input_ids: [Int32]
        let last_logits_f32_b64: String
        let argmax_per_position: [Int]
        let max_abs_logit: Float
        let greedy_ids: [Int32]
    }
    struct Shape: Decodable { let name: String; let hidden: Int; let heads: Int; let head_dim: Int; let prompts: [Case] }
    struct Reference: Decodable { let vocab: Int; let layers: Int; let shapes: [Shape] }

    func testLogitsMatchTransformersForDollyHeadSizes() throws {
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: FixturePaths.root.appendingPathComponent("head_shapes.json")))
        XCTAssertTrue(Set(ref.shapes.map(\.head_dim)).isSuperset(of: [80, 128]))
        for shape in ref.shapes {
            let dir = try FixturePaths.temporaryDirectory("dolly-\(shape.name)")
            defer { try? FileManager.default.removeItem(at: dir) }
            try GeneratedCheckpoint.write(hidden: shape.hidden, heads: shape.heads, vocab: ref.vocab, layers: ref.layers,
                                          maxPositions: 64, to: dir)
            let model = try DollyModel.load(path: dir.path)
            // Every kernel path this CPU runs (the attention and matrix code differ per path).
            try forEachKernelPath { kernel in try check(model, shape, ref.vocab, label: "\(shape.name) \(kernel)") }
        }
    }

    func check(_ model: DollyModel, _ shape: Shape, _ vocab: Int, label: String) throws {
        let session = try model.network.makeSession(contextLength: 64, kvType: .f32)
        for (n, p) in shape.prompts.enumerated() {
            session.reset()
            var argmax: [Int] = []
            var last: [Float] = []
            try session.evaluate(p.input_ids, logits: .all { _, logits in
                for r in 0..<logits.count / vocab {
                    let row = logits[r * vocab..<(r + 1) * vocab]
                    argmax.append(row.indices.max { row[$0] < row[$1] }! - r * vocab)
                    last = Array(row)
                }
            })
            let expected = ReferenceModelTests.floats(p.last_logits_f32_b64)
            XCTAssertEqual(last.count, expected.count)
            let err = zip(last, expected).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(err, 1e-3 * p.max_abs_logit, "\(label) prompt \(n): max |Δ| \(err)")
            XCTAssertEqual(argmax, p.argmax_per_position, "\(label) prompt \(n)")
            let greedy = try TokenGenerator(session: model.network.makeSession(contextLength: 64, kvType: .f32))
                .generate(prompt: p.input_ids, maxNewTokens: p.greedy_ids.count, sampling: .greedyDecoding, stopTokens: []) { _ in true }
            XCTAssertEqual(greedy.tokens, p.greedy_ids, "\(label) prompt \(n)")
        }
    }
}
