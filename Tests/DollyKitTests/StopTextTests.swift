import DollyKit
import XCTest

/// `--stop`: generation ends where the text would contain a stop text; neither it nor anything
/// after it is shown, and streaming never shows a prefix of a stop text that then completes.
final class StopTextTests: XCTestCase {
    /// Feeds `pieces`, checking after every piece that what was shown is a prefix of `expected`.
    func run(_ stops: [String], _ pieces: [String], expected: String, stops stopped: Bool,
             file: StaticString = #filePath, line: UInt = #line) {
        var f = StopTextFilter(stopTexts: stops)
        var shown = ""
        for piece in pieces {
            shown += f.push(piece)
            XCTAssertTrue(expected.hasPrefix(shown), "showed \(shown.debugDescription)", file: file, line: line)
            if f.stopped { break }
        }
        shown += f.flush()
        XCTAssertEqual(shown, expected, file: file, line: line)
        XCTAssertEqual(f.stopped, stopped, file: file, line: line)
    }

    func testStopTextAcrossPieces() {
        run(["### End"], ["Hel", "lo ##", "# E", "nd more", " text"], expected: "Hello ", stops: true)
        run(["\n\nUser:"], ["Sure.", "\n", "\nUs", "er: hi"], expected: "Sure.", stops: true)
        // A held prefix that does not complete is released, in order.
        run(["### End"], ["a #", "## En", "x", " b"], expected: "a ### Enx b", stops: false)
        run(["### End"], ["tail #"], expected: "tail #", stops: false)
    }

    func testEarliestOfSeveralStopsWins() {
        run(["beta", "alpha"], ["x alp", "ha beta"], expected: "x ", stops: true)
        run(["ab", "b"], ["xa", "b"], expected: "x", stops: true)  // "ab" starts before "b"
    }

    func testStopAtStartAndInsideOnePiece() {
        run(["STOP"], ["STOP and more"], expected: "", stops: true)
        run(["STOP"], ["one STOP two"], expected: "one ", stops: true)
        run(["東京"], ["大阪と東", "京"], expected: "大阪と", stops: true)
        run([], ["nothing ", "stops"], expected: "nothing stops", stops: false)
    }

    /// Through the model: a stop text spanning two tokens of the demo's greedy answer cuts the
    /// streamed answer right before it.
    func testStopTextSpanningTokensInGeneration() throws {
        let model = PromptFidelityTests.demoModel
        let session = try model.network.makeSession(contextLength: 256)
        var request = GenerationRequest(text: "What does the word \"ephemeral\" mean?", maxNewTokens: 40, sampling: .greedyDecoding)
        let full = try model.generate(request, session: session) { _ in true }
        let pieces = full.tokens.map { model.tokenizer.decode([$0]) }
        // The first boundary with at least two characters on either side.
        guard let k = (1..<pieces.count).first(where: { pieces[$0 - 1].count >= 2 && pieces[$0].count >= 2 && $0 >= 3 }) else {
            return XCTFail("answer too short: \(pieces)")
        }
        let stop = String(pieces[k - 1].suffix(2)) + String(pieces[k].prefix(2))
        let raw = model.tokenizer.decode(full.tokens)
        guard let cut = raw.range(of: stop)?.lowerBound else { return XCTFail("\(stop.debugDescription) not in \(raw)") }
        let expected = String(raw[..<cut]).trimmingCharacters(in: .whitespacesAndNewlines)
        request.stopTexts = ["never appears \u{1F600}", stop]
        var shown = ""
        let result = try model.generate(request, session: session) { piece in
            shown += piece
            XCTAssertTrue(expected.hasPrefix(shown), "streamed \(shown.debugDescription) past \(expected.debugDescription)")
            return true
        }
        XCTAssertEqual(shown, expected)
        XCTAssertEqual(result.stopReason, .stopText)
        XCTAssertLessThan(result.tokens.count, full.tokens.count)
    }
}
