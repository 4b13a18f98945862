@testable import DollyKit
import Foundation
import XCTest

/// JSON Schema `pattern` and `format` against a real regular-expression engine (Foundation's
/// NSRegularExpression, ICU): for each pattern and each candidate string, the grammar accepts the
/// candidate's JSON encoding exactly when the engine finds a match in it. Candidates stay inside what
/// both agree on: no string ending in a newline (ICU's `$` matches before one, ECMA's does not), and
/// \D \W \S are generated as ASCII only (so that Unicode-aware engines, ICU or Python's `re` in the
/// `jsonschema` package, agree that what is generated matches).
final class PatternGrammarTests: XCTestCase {
    static let patterns = [
        "^[A-Z]{2}-\\d{3}$", "^\\w+@\\w+\\.(com|org)$", "ab+c", "^(a|b)*c?$", "^[^0-9\"]{1,3}$", "^x{2,}$",
        "^\\d{3}(-\\d{4})?$", "colou?r", "^.{0,4}$", "^[a-c\\-]+$", "^\\s*\\S+\\s*$", "^\\D\\W$", "^a\\.b\\\\c\\\"$",
        "^[\\]\\[]$", "^(?:ab|cd){2}$", "^[^a]$", "^\"q\"$", "^a*?b+?$", "^\\u00e9t\\x65$", "^$", "\\t\\n",
    ]
    static let candidates = [
        "", "AB-123", "ab-123", "AB-1234", "joe@site.com", "joe@site.net", "abbc", "xxabcxx", "ac", "aabbc", "abab",
        "c", "cc", "abc", "a\"b", "xyz", "xyzw", "xx", "x", "xxxxx", "555", "555-1234", "555-12", "color", "colour",
        "colr", "abcd", "abcde", "a-c", "a_c", "  word ", "two words", "a!", "1!", "a.b\\c\"", "]", "[", "abcd", "abab",
        "b", "a", "\"q\"", "q", "aab", "ab", "été", "ete", "tab\t\nline", "é", "日本", "a\tb", "ab\\",
    ]

    func accepts(_ schema: String) throws -> (String) -> Bool {
        let m = try GrammarParserTests.matcher(JSONSchemaGrammar.gbnf(schema: schema))
        return { m($0).complete }
    }

    static func json(_ s: String) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: s, options: [.fragmentsAllowed, .withoutEscapingSlashes]),
               as: UTF8.self)
    }

    func testPatternsAgreeWithNSRegularExpression() throws {
        for pattern in Self.patterns {
            let schema = String(decoding: try JSONSerialization.data(withJSONObject: ["type": "string", "pattern": pattern]), as: UTF8.self)
            let grammar = try accepts(schema)
            let regex = try NSRegularExpression(pattern: pattern)
            for s in Self.candidates {
                let expected = regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
                let encoded = try Self.json(s)
                XCTAssertEqual(grammar(encoded), expected, "pattern \(pattern) on \(encoded)")
            }
        }
    }

    func testFormats() throws {
        try check("date", accepts: ["2026-12-06", "1999-01-31", "0001-04-30", "2000-02-28"],
                  rejects: ["2026-13-01", "2026-1-01", "26-12-06", "2026-12-32", "2026-04-31", "2026-02-30", "0000-01-01"])
        try check("time", accepts: ["23:59:59Z", "00:00:00.123+05:30"], rejects: ["24:00:00Z", "12:00:00", "12:60:00Z"])
        try check("date-time", accepts: ["2026-12-06T13:56:11Z", "2026-12-06T13:56:11.5-01:00"], rejects: ["2026-12-06 13:56:11Z"])
        try check("uuid", accepts: ["123e4567-e89b-12d3-a456-426614174000"], rejects: ["123e4567e89b12d3a456426614174000", "G23e4567-e89b-12d3-a456-426614174000"])
    }

    func check(_ format: String, accepts good: [String], rejects bad: [String]) throws {
        let m = try accepts(#"{"type": "string", "format": "\#(format)"}"#)
        for s in good { XCTAssertTrue(m(try Self.json(s)), "\(format) should accept \(s)") }
        for s in bad { XCTAssertFalse(m(try Self.json(s)), "\(format) should reject \(s)") }
    }
}
