import DollyKit
import XCTest

/// The library as an embedding program uses it: one shared model, concurrent streams.
final class EmbeddingAPITests: XCTestCase {
    /// A model larger than the memory available gets a clear warning instead of silent thrashing.
    func testMemoryWarningWhenTheModelDoesNotFit() throws {
        let model = try DollyModel.load(path: FixturePaths.path("tiny-bin"))
        XCTAssertNil(model.memoryWarning(kvCacheBytes: 1 << 20, available: 1 << 40))
        let warning = try XCTUnwrap(model.memoryWarning(kvCacheBytes: 1 << 20, available: 1 << 20))
        XCTAssertTrue(warning.contains("read from disk"), warning)
    }

    func testConcurrentStreamsOnOneModelMatchSequentialGeneration() async throws {
        let model = try DollyModel.load(path: FixturePaths.path("tiny-bin"))
        let requests = ["Hello", "The quick brown fox", "Once upon a time"].map {
            GenerationRequest(text: $0, raw: true, maxNewTokens: 12, sampling: .greedyDecoding)
        }
        // Sequential reference, one session reused.
        let session = try model.network.makeSession(contextLength: 64)
        var expected: [String] = []
        for r in requests {
            var text = ""
            try model.generate(r, session: session) { text += $0; return true }
            expected.append(text)
        }
        // The same requests as concurrent streams.
        let got = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for (i, r) in requests.enumerated() {
                group.addTask {
                    var text = ""
                    for try await piece in model.stream(r, contextLength: 64) { text += piece }
                    return (i, text)
                }
            }
            var out = [String](repeating: "", count: requests.count)
            for try await (i, text) in group { out[i] = text }
            return out
        }
        XCTAssertEqual(got, expected)
    }
}

final class SamplerTests: XCTestCase {
    func testNonFiniteLogitsNeverCrashTheSampler() {
        var sampler = Sampler(SamplingParameters(seed: 1))
        for bad in [Float.nan, .infinity, -.infinity] {
            let logits = [Float](repeating: bad, count: 10)
            let id = logits.withUnsafeBufferPointer { sampler.sample($0) }
            XCTAssertTrue((0..<10).contains(Int(id)))
        }
    }

    func testSeededSamplingIsReproducibleAndRespectsTopK() {
        let logits: [Float] = [0, 5, 4.9, 1, -3, 4.8]
        func draws(_ p: SamplingParameters) -> [Int32] {
            var s = Sampler(p)
            return (0..<200).map { _ in logits.withUnsafeBufferPointer { s.sample($0) } }
        }
        let a = draws(SamplingParameters(topK: 2, seed: 9)), b = draws(SamplingParameters(topK: 2, seed: 9))
        XCTAssertEqual(a, b)
        XCTAssertEqual(Set(a), [1, 2])
        XCTAssertEqual(Set(draws(SamplingParameters(greedy: true))), [1])
    }
}
