import Foundation
import XCTest
@testable import DollyKit

/// Long pre-tokenized pieces (where the order of merges matters most) against `tokenizers`' ids, written
/// by tools/fixtures/make_long_word_fixtures.py; and the token-count bound and cancellation of
/// `encode(_:atMost:isCancelled:)`.
final class TokenizerLongWordTests: XCTestCase {
    struct Case {
        var name: String
        var text: String
        var ids: [Int32]
    }

    static func cases() throws -> [Case] {
        let data = try Data(contentsOf: TokenizerFixtures.directory.appendingPathComponent("tokenizer_long_words.json"))
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try XCTUnwrap(root["cases"] as? [[String: Any]]).map {
            Case(name: $0["name"] as? String ?? "", text: $0["text"] as? String ?? "",
                 ids: ($0["ids"] as? [Int] ?? []).map(Int32.init))
        }
    }

    func testLongPiecesEncodeLikeReference() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        let cases = try Self.cases()
        XCTAssertGreaterThanOrEqual(cases.count, 10)
        for c in cases {
            XCTAssertEqual(tokenizer.encode(c.text), c.ids, c.name)
            // Twice: the second time pieces short enough come from the cache.
            XCTAssertEqual(tokenizer.encode(c.text), c.ids, "\(c.name), again")
        }
    }

    /// The bound must never refuse text that fits: with exactly its own token count as the budget every
    /// string encodes, with one less it is refused.
    func testBoundNeverRefusesTextThatFits() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        let texts = try TokenizerFixtures.corpus().strings + Self.cases().map(\.text)
        for text in texts {
            let ids = tokenizer.encode(text)
            XCTAssertEqual(try tokenizer.encode(text, atMost: ids.count), ids, debugScalars(String(text.prefix(60))))
            if ids.isEmpty { continue }
            XCTAssertThrowsError(try tokenizer.encode(text, atMost: ids.count - 1)) { error in
                guard case let .tooManyTokens(atLeast, limit) = error as? TokenizerError else { return XCTFail("\(error)") }
                XCTAssertLessThanOrEqual(atLeast, ids.count)
                XCTAssertEqual(limit, ids.count - 1)
            }
        }
    }

    func testLongWordIsRefusedFromItsLength() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        XCTAssertEqual(tokenizer.longestTokenBytes, 512)  // a run of spaces
        // A megabyte of one letter: far more than 2048 tokens, known without encoding it. The bound uses
        // the longest letters-only token, so it says much more than bytes / 512.
        let word = String(repeating: "a", count: 1 << 20)
        XCTAssertThrowsError(try tokenizer.encode(word, atMost: 2047)) { error in
            guard case let .tooManyTokens(atLeast, _) = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertGreaterThan(atLeast, (1 << 20) / 64, "\(atLeast)")
        }
        // Added tokens count one each, whatever their length.
        let specials = String(repeating: "### End", count: 10)
        XCTAssertEqual(try tokenizer.encode(specials, atMost: 10).count, 10)
        XCTAssertThrowsError(try tokenizer.encode(specials, atMost: 9))
    }

    func testCancellationStopsALongPiece() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        let word = String(repeating: "ab", count: 150_000)
        final class Asked: @unchecked Sendable { var count = 0 }
        let asked = Asked()
        XCTAssertThrowsError(try tokenizer.encode(word, atMost: .max, isCancelled: { asked.count += 1; return true })) { error in
            XCTAssertEqual(error as? TokenizerError, .cancelled)
        }
        XCTAssertEqual(asked.count, 1)
        // Many short pieces: asked between pieces.
        let prose = String(repeating: "the quick brown fox ", count: 2000)
        XCTAssertThrowsError(try tokenizer.encode(prose, atMost: .max, isCancelled: { true })) { error in
            XCTAssertEqual(error as? TokenizerError, .cancelled)
        }
        XCTAssertEqual(try tokenizer.encode(prose, atMost: .max, isCancelled: { false }), tokenizer.encode(prose))
    }
}
