import XCTest
@testable import DollyKit

/// Waiting prompts share a step's rows: a short prompt admitted while a long one is being read starts
/// its answer long before the long one is read (slot order used to give the first slot every row).
final class BatchFairnessTests: XCTestCase {
    func testAShortPromptIsNotHeldBehindALongOne() async throws {
        let model = BatchEngineTests.model
        let long = try model.promptTokens(for: GenerationRequest(text: String(repeating: "one two three four ", count: 40), raw: true))
        let short = try model.promptTokens(for: GenerationRequest(text: "Name three colors."))
        XCTAssertGreaterThan(long.count, 150)
        let engine = try BatchEngine(model: model, options: .init(parallel: 2, context: 256, stepRows: 8))
        defer { engine.shutdown(grace: 0) }
        let order = OrderLog()
        let streams = [("long", try engine.submit(BatchRequest(prompt: long, maxNewTokens: 1, sampling: .greedyDecoding))),
                       ("short", try engine.submit(BatchRequest(prompt: short, maxNewTokens: 1, sampling: .greedyDecoding)))]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (name, stream) in streams {
                group.addTask {
                    for await event in stream {
                        if case .finished = event { order.append(name) }
                    }
                }
            }
            try await group.waitForAll()
        }
        XCTAssertEqual(order.names, ["short", "long"])
    }
}

private final class OrderLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func append(_ name: String) { lock.lock(); list.append(name); lock.unlock() }
    var names: [String] { lock.lock(); defer { lock.unlock() }; return list }
}
