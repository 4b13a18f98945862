import Foundation
import XCTest
@testable import DollyKit

/// Shared, lazily loaded fixtures for the tokenizer tests (there are no SwiftPM resources;
/// files are found next to this source file).
enum TokenizerFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let tokenizerURL = directory.appendingPathComponent("tokenizer.json")

    struct DecodeCase {
        var ids: [Int32]
        var text: String
        var skipSpecial: String
    }

    /// Reference output of HuggingFace `tokenizers`, written by tools/fixtures/make_tokenizer_corpus.py.
    struct Corpus {
        var strings: [String]
        var ids: [[Int32]]
        var decoded: [String]
        var decodeCases: [DecodeCase]
    }

    static func tokenizer() throws -> Tokenizer {
        try Tokenizer(contentsOf: tokenizerURL)
    }

    static func tokenizerJSON() throws -> [String: Any] {
        let data = try Data(contentsOf: tokenizerURL)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func corpus() throws -> Corpus {
        let data = try Data(contentsOf: directory.appendingPathComponent("tokenizer_corpus.json"))
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let strings = try XCTUnwrap(root["strings"] as? [String])
        let ids = try XCTUnwrap(root["ids"] as? [[Int]]).map { $0.map(Int32.init) }
        let decodedOrNull = try XCTUnwrap(root["decoded"] as? [Any])
        let decoded = zip(strings, decodedOrNull).map { s, d in (d as? String) ?? s }
        let cases = try XCTUnwrap(root["decode_cases"] as? [[String: Any]]).map { c in
            DecodeCase(ids: (c["ids"] as? [Int] ?? []).map(Int32.init),
                       text: c["text"] as? String ?? "", skipSpecial: c["skip_special"] as? String ?? "")
        }
        XCTAssertEqual(strings.count, ids.count)
        XCTAssertEqual(strings.count, decoded.count)
        return Corpus(strings: strings, ids: ids, decoded: decoded, decodeCases: cases)
    }
}

/// Swift's `==` on String ignores canonical equivalence differences (é vs e + ◌́); the tokenizer
/// must reproduce exact scalars, so compare bytes.
func sameScalars(_ a: String, _ b: String) -> Bool {
    a.utf8.elementsEqual(b.utf8)
}

func debugScalars(_ s: String) -> String {
    s.unicodeScalars.map { $0.value < 0x80 && $0.value >= 0x20 ? String($0) : String(format: "<U+%04X>", $0.value) }.joined()
}
