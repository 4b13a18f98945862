import Foundation
import XCTest
@testable import DollyKit

/// The thread count belongs to whoever runs the model (a session, the batch engine), not to the OS
/// thread that happens to call it: generation on a fresh `Thread` or a Dispatch queue, with a count
/// other than the process default, gives the main thread's tokens, also with prompts that fill
/// nearly the whole context (where a scratch sized for fewer threads than run would overflow; the
/// ASan build, tools/ci/sanitize.sh, runs this class).
final class ThreadOwnershipTests: XCTestCase {
    static var model: DollyModel { PromptFidelityTests.demoModel }
    static let context = 256

    /// An instruction with an `Input:` passage that leaves about 20 tokens of the context for the answer.
    static let longRequest: GenerationRequest = {
        let passage = Array(repeating: "The river runs past the old mill and the bridge.", count: 40).joined(separator: " ")
        var words = passage.split(separator: " ")
        var request = GenerationRequest(text: "Where does the river run?", context: passage, maxNewTokens: 16,
                                        sampling: .greedyDecoding)
        while (try? model.promptTokens(for: request).count).map({ $0 > context - 20 }) ?? true {
            words.removeLast(5)
            request.context = words.joined(separator: " ")
        }
        return request
    }()
    static let requests = [GenerationRequest(text: "Name three colors.", maxNewTokens: 24, sampling: .greedyDecoding), longRequest]

    static func greedy(threads: Int) throws -> [[Int32]] {
        let session = try model.network.makeSession(contextLength: context, kvType: .f16, threads: threads)
        return try requests.map { request in
            session.reset()
            return try model.generate(request, session: session) { _ in true }.tokens
        }
    }

    func testTheLongPromptNearlyFillsTheContext() throws {
        let n = try Self.model.promptTokens(for: Self.longRequest).count
        XCTAssertGreaterThan(n, Self.context - 40)
        XCTAssertLessThanOrEqual(n + Self.longRequest.maxNewTokens, Self.context)
    }

    func testGenerationOnAnyThreadEqualsTheMainThread() throws {
        let expected = try Self.greedy(threads: DollyModel.defaultThreads)
        for threads in [1, 3] where threads != DollyModel.defaultThreads {
            XCTAssertEqual(try Self.greedy(threads: threads), expected, "\(threads) threads, calling thread")

            final class Box: @unchecked Sendable { var result: Result<[[Int32]], Error>? }
            let onThread = Box(), done = DispatchSemaphore(value: 0)
            let thread = Thread {
                onThread.result = Result { try Self.greedy(threads: threads) }
                done.signal()
            }
            thread.stackSize = 8 << 20
            thread.start()
            XCTAssertEqual(done.wait(timeout: .now() + 120), .success)
            XCTAssertEqual(try onThread.result?.get(), expected, "\(threads) threads, a fresh Thread")

            let onQueue = Box()
            DispatchQueue.global(qos: .userInitiated).async {
                onQueue.result = Result { try Self.greedy(threads: threads) }
                done.signal()
            }
            XCTAssertEqual(done.wait(timeout: .now() + 120), .success)
            XCTAssertEqual(try onQueue.result?.get(), expected, "\(threads) threads, a Dispatch queue")
        }
    }

    /// The batch engine runs its passes on its own thread with the count it was given.
    func testBatchEngineAtItsOwnThreadCountNearTheContext() async throws {
        let expected = try Self.greedy(threads: DollyModel.defaultThreads)
        for threads in [1, 3] {
            let engine = try BatchEngine(model: Self.model, options: .init(parallel: 2, context: Self.context, threads: threads))
            defer { engine.shutdown(grace: 0) }
            // Three requests on two slots: the long one twice at once, one waiting in the queue.
            let order = [1, 1, 0]
            let streams = try order.map { i in
                try engine.submit(BatchRequest(prompt: try Self.model.promptTokens(for: Self.requests[i]),
                                               maxNewTokens: Self.requests[i].maxNewTokens, sampling: .greedyDecoding))
            }
            for (stream, i) in zip(streams, order) {
                var tokens: [Int32] = []
                for await event in stream {
                    if case let .text(_, ids, _) = event { tokens += ids }
                }
                XCTAssertEqual(tokens, expected[i], "request \(i), \(threads) threads")
            }
        }
    }

    func testBatchEngineRefusesZeroThreads() {
        XCTAssertThrowsError(try BatchEngine(model: Self.model, options: .init(parallel: 1, context: 64, threads: 0)))
    }

    /// `dolly compare` (greedyTrace) chooses tokens where generation does: the output penalties count
    /// its own tokens, so it answers as `dolly run --greedy` does with the same penalties.
    func testCompareAppliesTheOutputPenaltiesAsGenerationDoes() throws {
        let session = try Self.model.network.makeSession(contextLength: Self.context, kvType: .f32)
        let reference = try Self.model.network.makeSession(contextLength: Self.context, kvType: .f32)
        var sawEffect = false
        for text in ["Name three colors.", "Write a story about a dog."] {
            var penalized = SamplingParameters.greedyDecoding
            penalized.frequencyPenalty = 1.5
            penalized.presencePenalty = 1.5
            let request = GenerationRequest(text: text, maxNewTokens: 60, sampling: penalized)
            session.reset()
            let generated = try Self.model.generate(request, session: session) { _ in true }
            let compared = try Self.model.compareGreedy(with: Self.model, request: request, session: session,
                                                        referenceSession: reference)
            // The trace includes the stop token that ended the answer; generation reports it as the reason.
            let traced = generated.stopReason == .stopToken ? Array(compared.tokens.dropLast()) : compared.tokens
            XCTAssertEqual(traced, generated.tokens, text)
            XCTAssertTrue(compared.identical, text)
            var plain = request
            plain.sampling = .greedyDecoding
            session.reset()
            if try Self.model.generate(plain, session: session) { _ in true }.tokens != generated.tokens { sawEffect = true }
        }
        XCTAssertTrue(sawEffect, "the penalties changed no answer: the test proves nothing")
    }
}

/// The default thread count: physical cores among the CPUs the process may use.
final class CPUTopologyTests: XCTestCase {
    func testCPUListsParse() {
        XCTAssertEqual(CPUTopology.parseList(" 0-3,8,10-11"), [0, 1, 2, 3, 8, 10, 11])
        XCTAssertEqual(CPUTopology.parseList("5"), [5])
        XCTAssertNil(CPUTopology.parseList("3-1"))
        XCTAssertNil(CPUTopology.parseList("x"))
        XCTAssertNil(CPUTopology.parseList(""))
    }

    /// Four cores with two hyper-threads each (CPUs i and i + 4 share core i), as Linux numbers them.
    static let laptop = (0..<8).map { "processor\t: \($0)\nphysical id\t: 0\ncore id\t\t: \($0 % 4)\n" }.joined(separator: "\n")

    func testHyperThreadsCountOnceAndAffinityNarrows() {
        var t = CPUTopology(coreOfCPU: CPUTopology.parseCores(Self.laptop), allowed: nil, logicalCount: 8)
        XCTAssertEqual(t.usableCores, 4)
        t.allowed = [0, 4]       // taskset -c 0,4: one core's two threads
        XCTAssertEqual(t.usableCores, 1)
        t.allowed = [0, 1]       // taskset -c 0,1: two cores
        XCTAssertEqual(t.usableCores, 2)
        let unknown = CPUTopology(coreOfCPU: [:], allowed: [0, 1, 2], logicalCount: 8)
        XCTAssertEqual(unknown.usableCores, 3)
    }

    func testThisProcessUnderTaskset() throws {
        XCTAssertGreaterThanOrEqual(DollyModel.defaultThreads, 1)
        // The binary, pinned to one CPU, defaults to one thread (bench prints its count).
        let taskset = URL(fileURLWithPath: "/usr/bin/taskset")
        guard FileManager.default.fileExists(atPath: taskset.path) else { throw XCTSkip("no taskset") }
        let p = Process()
        p.executableURL = taskset
        p.arguments = ["-c", "0", CLITests.binary.path, "bench", "--model", CLITests.serveDemo, "-p", "8", "-n", "4",
                       "-r", "1", "-o", "json"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        XCTAssertEqual(rows.first?["n_threads"] as? Int, 1)
    }
}
