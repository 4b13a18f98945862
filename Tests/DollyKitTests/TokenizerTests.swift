import Foundation
import XCTest
@testable import DollyKit

final class TokenizerTests: XCTestCase {
    func testDollyPromptTokensAreSingleIds() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        XCTAssertEqual(tokenizer.encode("### End"), [50277])
        XCTAssertEqual(tokenizer.encode("### Instruction:"), [50278])
        XCTAssertEqual(tokenizer.encode("### Response:\n"), [50279])
        XCTAssertEqual(tokenizer.id(ofToken: "### End"), 50277)
        XCTAssertEqual(tokenizer.id(ofToken: "### Instruction:"), 50278)
        XCTAssertEqual(tokenizer.id(ofToken: "### Response:\n"), 50279)
        for id: Int32 in [0, 1, 50277, 50278, 50279] { XCTAssertTrue(tokenizer.isSpecial(id), "\(id)") }
        for id: Int32 in [2, 50254, 50276, 1000] { XCTAssertFalse(tokenizer.isSpecial(id), "\(id)") }

        let prompt = "Below is an instruction.\n\n### Instruction:\nSay hi.\n\n### Response:\nHi!\n\n### End"
        let ids = tokenizer.encode(prompt)
        XCTAssertEqual(ids.filter { $0 >= 50277 }, [50278, 50279, 50277])
        XCTAssertEqual(tokenizer.decode(ids), prompt)
        XCTAssertEqual(tokenizer.decode(ids, skipSpecialTokens: true), "Below is an instruction.\n\n\nSay hi.\n\nHi!\n\n")
    }

    func testVocabularyAccessors() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        XCTAssertEqual(tokenizer.vocabularySize, 50280)
        XCTAssertEqual(tokenizer.addedTokens.count, 28)
        XCTAssertEqual(tokenizer.addedTokens.first, AddedToken(id: 0, content: "<|endoftext|>", special: true))
        XCTAssertEqual(tokenizer.id(ofToken: "<|endoftext|>"), 0)
        XCTAssertEqual(tokenizer.id(ofToken: "Ġthe"), tokenizer.encode(" the").first)
        XCTAssertNil(tokenizer.id(ofToken: "definitely not a token"))
        XCTAssertEqual(tokenizer.tokenBytes(tokenizer.id(ofToken: "Ġthe")!), Array(" the".utf8))
        XCTAssertEqual(tokenizer.tokenBytes(0), Array("<|endoftext|>".utf8))
        XCTAssertEqual(tokenizer.tokenBytes(50276), [0x20, 0x20])
        XCTAssertEqual(tokenizer.tokenBytes(-1), [])
        XCTAssertEqual(tokenizer.tokenBytes(999_999), [])
        XCTAssertEqual(tokenizer.decode([-5, 999_999]), "")
        XCTAssertEqual(tokenizer.encode(""), [])
    }

    func testStreamingHoldsBackHalfCharacters() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        let ids = tokenizer.encode("😀")
        XCTAssertGreaterThan(ids.count, 1, "the emoji should span several byte tokens")
        var stream = StreamingDecoder(tokenizer: tokenizer)
        let pieces = ids.map { stream.append($0) }
        XCTAssertEqual(pieces.dropLast().joined(), "")
        XCTAssertEqual(pieces.last, "😀")
        XCTAssertEqual(stream.flush(), "")

        var cut = StreamingDecoder(tokenizer: tokenizer)
        XCTAssertEqual(cut.append(ids[0]), "")
        XCTAssertEqual(cut.flush(), "\u{FFFD}")
    }

    func testMergesAsPairsGiveSameIds() throws {
        var json = try TokenizerFixtures.tokenizerJSON()
        var model = try XCTUnwrap(json["model"] as? [String: Any])
        let merges = try XCTUnwrap(model["merges"] as? [String])
        model["merges"] = merges.map { $0.split(separator: " ", maxSplits: 1).map(String.init) }
        json["model"] = model
        let pairs = try Tokenizer(data: JSONSerialization.data(withJSONObject: json))
        let strings = try Tokenizer(contentsOf: TokenizerFixtures.tokenizerURL)
        for text in ["Hello, world! It's 2023.", "東京 😀 naïve", "    indented\tcode()"] {
            XCTAssertEqual(pairs.encode(text), strings.encode(text))
        }
    }

    func testRefusesOtherModelTypes() throws {
        for type in ["Unigram", "WordPiece", "WordLevel"] {
            var json = try TokenizerFixtures.tokenizerJSON()
            var model = try XCTUnwrap(json["model"] as? [String: Any])
            model["type"] = type
            json["model"] = model
            let data = try JSONSerialization.data(withJSONObject: json)
            XCTAssertThrowsError(try Tokenizer(data: data)) { error in
                XCTAssertEqual(error as? TokenizerError, .unsupportedModel(type))
                XCTAssertTrue(error.localizedDescription.contains(type), error.localizedDescription)
            }
        }
        var json = try TokenizerFixtures.tokenizerJSON()
        json["pre_tokenizer"] = ["type": "Whitespace"]
        XCTAssertThrowsError(try Tokenizer(data: JSONSerialization.data(withJSONObject: json))) { error in
            guard case .unsupportedModel = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertTrue(error.localizedDescription.contains("byte-level"), error.localizedDescription)
        }
        json = try TokenizerFixtures.tokenizerJSON()
        json["normalizer"] = ["type": "Lowercase"]
        XCTAssertThrowsError(try Tokenizer(data: JSONSerialization.data(withJSONObject: json))) { error in
            XCTAssertEqual(error as? TokenizerError, .unsupportedComponent(key: "normalizer", value: "Lowercase"))
        }
    }

    func testRefusesMalformedInput() throws {
        let garbage = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) })
        XCTAssertThrowsError(try Tokenizer(data: garbage)) { error in
            guard case .malformedJSON = error as? TokenizerError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try Tokenizer(data: Data())) { error in
            guard case .malformedJSON = error as? TokenizerError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try Tokenizer(data: Data("[1, 2]".utf8))) { error in
            XCTAssertEqual(error as? TokenizerError, .wrongType(key: "(root)", expected: "an object"))
        }
        XCTAssertThrowsError(try Tokenizer(data: Data("{}".utf8))) { error in
            XCTAssertEqual(error as? TokenizerError, .missingKey("model"))
        }
        var json = try TokenizerFixtures.tokenizerJSON()
        var model = try XCTUnwrap(json["model"] as? [String: Any])
        model["merges"] = nil
        json["model"] = model
        XCTAssertThrowsError(try Tokenizer(data: JSONSerialization.data(withJSONObject: json))) { error in
            XCTAssertEqual(error as? TokenizerError, .missingKey("model.merges"))
        }
        model["merges"] = ["Ġ t", "not a merge"]
        json["model"] = model
        XCTAssertThrowsError(try Tokenizer(data: JSONSerialization.data(withJSONObject: json))) { error in
            guard case .invalidMerge(index: 1, _) = error as? TokenizerError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try Tokenizer(contentsOf: URL(fileURLWithPath: "/nonexistent/tokenizer.json"))) { error in
            guard case .cannotRead(path: "/nonexistent/tokenizer.json", _) = error as? TokenizerError else { return XCTFail("\(error)") }
        }
    }
}

/// lstrip / rstrip / single_word are all false in Dolly's file; the fixture records what
/// tokenizers does when they are set, and the same overrides must give the same ids here.
final class TokenizerAddedTokenFlagTests: XCTestCase {
    func testAddedTokenFlagsMatchReference() throws {
        let data = try Data(contentsOf: TokenizerFixtures.directory.appendingPathComponent("tokenizer_corpus.json"))
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let flags = try XCTUnwrap(root["added_token_flags"] as? [String: Any])
        let overrides = try XCTUnwrap(flags["overrides"] as? [String: [String: Bool]])
        let cases = try XCTUnwrap(flags["cases"] as? [[String: Any]])

        var json = try TokenizerFixtures.tokenizerJSON()
        let added = try XCTUnwrap(json["added_tokens"] as? [[String: Any]])
        json["added_tokens"] = added.map { token -> [String: Any] in
            var token = token
            for (key, value) in overrides[token["content"] as? String ?? ""] ?? [:] { token[key] = value }
            return token
        }
        let tokenizer = try Tokenizer(data: JSONSerialization.data(withJSONObject: json))
        XCTAssertFalse(cases.isEmpty)
        for c in cases {
            let text = try XCTUnwrap(c["text"] as? String)
            let want = try XCTUnwrap(c["ids"] as? [Int]).map(Int32.init)
            XCTAssertEqual(tokenizer.encode(text), want, debugScalars(text))
        }
    }
}
