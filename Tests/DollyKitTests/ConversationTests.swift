import DollyKit
import Foundation
import XCTest

/// `dolly chat --history`: earlier exchanges as Dolly's training records (against
/// Tests/Fixtures/conversation_reference.json, from tools/fixtures/make_conversation_reference.py on
/// upstream's template and HF tokenizers), and a `Conversation` that reuses its cache answering
/// exactly as a fresh session given the whole prompt.
final class ConversationTests: XCTestCase {
    struct Exchange: Decodable { let instruction: String; let context: String?; let answer: String }
    struct Case: Decodable {
        let earlier: [Exchange]
        let instruction: String
        let context: String?
        let prompt_text: String
        let prompt_ids: [Int32]
    }
    struct Reference: Decodable { let cases: [Case] }

    static let demo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/dolly-demo").path

    func testHistoriesAreUpstreamsTrainingRecordsInOrder() throws {
        let data = try Data(contentsOf: FixturePaths.root.appendingPathComponent("conversation_reference.json"))
        let reference = try JSONDecoder().decode(Reference.self, from: data)
        let tokenizer = try Tokenizer(contentsOf: FixturePaths.root.appendingPathComponent("tokenizer.json"))
        XCTAssertEqual(reference.cases.count, 3)
        for c in reference.cases {
            let earlier = c.earlier.map { DollyExchange(instruction: $0.instruction, context: $0.context, answer: $0.answer) }
            let text = DollyPrompt.conversation(earlier, instruction: c.instruction, context: c.context)
            XCTAssertEqual(text, c.prompt_text)
            XCTAssertEqual(tokenizer.encode(text), c.prompt_ids)
        }
    }

    func testTurnsReuseTheCacheAndAnswerAsAFreshSession() throws {
        let model = try DollyModel.load(path: Self.demo)
        let conversation = Conversation(model: model, session: try model.network.makeSession(contextLength: 256))
        let passage = "Dolly was a sheep cloned in 1996 at the Roslin Institute in Scotland."
        var previousHeld = 0
        for (i, q) in ["Who was Dolly?", "Where was she cloned?", "When?"].enumerated() {
            let request = GenerationRequest(text: q, context: i == 0 ? passage : nil, maxNewTokens: 20, sampling: .greedyDecoding)
            let earlier = conversation.exchanges
            let turn = try conversation.answer(request) { _ in true }
            XCTAssertEqual(turn.droppedExchanges, 0)
            // The same prompt on an empty session gives the same tokens.
            let prompt = model.tokenizer.encode(DollyPrompt.conversation(earlier, instruction: q, context: request.context))
            let fresh = try model.network.makeSession(contextLength: 256)
            let expected = try TokenGenerator(session: fresh).generate(prompt: prompt, maxNewTokens: 20, sampling: .greedyDecoding,
                                                                       stopTokens: model.stopTokens) { _ in true }
            XCTAssertEqual(turn.result.tokens, expected.tokens, "turn \(i + 1)")
            if i > 0 { XCTAssertGreaterThanOrEqual(turn.reusedTokens, previousHeld - 1, "turn \(i + 1) reuses the last prompt and answer") }
            previousHeld = prompt.count + turn.result.tokens.count - 1
        }
        XCTAssertEqual(conversation.exchanges.count, 3)
        conversation.clear()
        XCTAssertTrue(conversation.exchanges.isEmpty)
    }

    func testTheOldestTurnsGoWhenTheContextIsFull() throws {
        let model = try DollyModel.load(path: Self.demo)
        let conversation = Conversation(model: model, session: try model.network.makeSession(contextLength: 128))
        var dropped = 0
        for q in ["Name a color.", "Name an animal.", "Name a city.", "Name a tree.", "Name a fruit."] {
            dropped += try conversation.answer(GenerationRequest(text: q, maxNewTokens: 16, sampling: .greedyDecoding)) { _ in true }
                .droppedExchanges
        }
        XCTAssertGreaterThan(dropped, 0, "five turns of ~40 tokens do not fit 128")
        XCTAssertLessThan(conversation.exchanges.count, 5)
    }
}
