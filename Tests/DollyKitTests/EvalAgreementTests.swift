import DollyKit
import Foundation
import XCTest

/// `dolly eval` against transformers item by item on the committed slices
/// (Tests/Fixtures/eval/reference_demo.json from tools/fixtures/eval_reference.py on models/dolly-demo).
final class EvalAgreementTests: XCTestCase {
    struct Reference: Decodable {
        struct Choice: Decodable {
            let continuation_ids: [Int32]
            let logprob: Double
        }
        struct Item: Decodable {
            let index: Int
            let label: Int
            let pred: Int
            let pred_norm: Int
            let context_ids: [[Int32]]
            let choices: [Choice]
        }
        struct Task: Decodable { let items: [Item] }
        let tasks: [String: Task]
    }

    /// Items per task checked here; DOLLY_EVAL_ITEMS=200 runs the full committed slices (reported in
    /// BENCHMARKS.md), too slow for every CI run in a debug build.
    static let itemsPerTask = Int(ProcessInfo.processInfo.environment["DOLLY_EVAL_ITEMS"] ?? "") ?? 12

    func testScoresAgreeWithTransformersItemByItem() throws {
        let root = FixturePaths.root.deletingLastPathComponent().deletingLastPathComponent()
        let modelPath = root.appendingPathComponent("models/dolly-demo").path
        let refURL = FixturePaths.root.appendingPathComponent("eval/reference_demo.json")
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: refURL))
        let model = try DollyModel.load(path: modelPath)
        let session = try model.network.makeSession(kvType: .f32)
        for task in EvalTask.allCases {
            let ref = try XCTUnwrap(reference.tasks[task.rawValue], task.rawValue)
            let items = try EvalItem.load(path: FixturePaths.root.appendingPathComponent("eval/\(task.rawValue).jsonl").path,
                                          limit: Self.itemsPerTask)
            for (item, r) in zip(items, ref.items) {
                for (k, pair) in item.pairs.enumerated() {
                    let ids = model.loglikelihoodTokens(context: pair.context, continuation: pair.continuation)
                    XCTAssertEqual(ids.continuation, r.choices[k].continuation_ids, "\(task) item \(r.index) choice \(k) tokens")
                    XCTAssertEqual(ids.context, r.context_ids[r.context_ids.count == 1 ? 0 : k], "\(task) item \(r.index) context")
                }
                let s = try model.score(item, session: session)
                for (k, lp) in s.logprobs.enumerated() {
                    XCTAssertEqual(lp, r.choices[k].logprob, accuracy: 2e-3 * max(1, abs(r.choices[k].logprob)),
                                   "\(task) item \(r.index) choice \(k) log-likelihood")
                }
                XCTAssertEqual(s.prediction, r.pred, "\(task) item \(r.index) acc choice")
                if task.reportsNormalized { XCTAssertEqual(s.normalizedPrediction, r.pred_norm, "\(task) item \(r.index) acc_norm choice") }
            }
        }
    }
}
