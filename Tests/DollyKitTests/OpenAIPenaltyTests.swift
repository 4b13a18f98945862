import XCTest
@testable import DollyKit

/// OpenAI's frequency and presence penalties, as its API reference defines them: the logit of token j
/// drops by count_j * frequency_penalty + (count_j > 0) * presence_penalty, counting generated tokens
/// only. transformers has no such processor, so the expected values are that formula worked by hand.
final class OpenAIPenaltyTests: XCTestCase {
    func testPenaltiesCountGeneratedTokensOnly() {
        var history = TokenHistory([1, 2, 3], vocabularySize: 6)  // the prompt: never penalised
        for id: Int32 in [3, 3, 4, 3] { history.appendGenerated(id) }
        let logits: [Float] = [0.5, 1, -2, 4, 0.25, 3]
        var sampler = Sampler(SamplingParameters(greedy: true, frequencyPenalty: 0.75, presencePenalty: 0.5))
        let out = logits.withUnsafeBufferPointer { sampler.processedLogits($0, history: history) }
        XCTAssertEqual(out, [0.5, 1, -2, 4 - 3 * 0.75 - 0.5, 0.25 - 0.75 - 0.5, 3])
        XCTAssertEqual(history.generatedCounts[3], 3)
        XCTAssertEqual(history.generatedIds, [3, 4])
    }

    func testNegativePenaltiesRaiseTheLogits() {
        var history = TokenHistory([0], vocabularySize: 3)
        history.appendGenerated(2)
        var sampler = Sampler(SamplingParameters(greedy: true, frequencyPenalty: -1, presencePenalty: -0.5))
        let out = [Float](repeating: 0, count: 3).withUnsafeBufferPointer { sampler.processedLogits($0, history: history) }
        XCTAssertEqual(out, [0, 0, 1.5])
    }

    func testRangeIsOpenAIs() {
        XCTAssertEqual(SamplingParameters(frequencyPenalty: 2.5).outOfRange?.field, .frequencyPenalty)
        XCTAssertEqual(SamplingParameters(presencePenalty: -2.01).outOfRange?.field, .presencePenalty)
        XCTAssertNil(SamplingParameters(frequencyPenalty: -2, presencePenalty: 2).outOfRange)
    }
}
