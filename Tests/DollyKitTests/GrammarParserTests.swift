@testable import DollyKit
import XCTest

/// The GBNF parser and the recognizer on whole strings: each construct, each error with its position.
final class GrammarParserTests: XCTestCase {
    /// One token per byte: the recognizer seen without the trie.
    static let bytes = TokenVocabulary(tokenBytes: (0..<256).map { [UInt8($0)] })

    static func matcher(_ gbnf: String) throws -> (String) -> (complete: Bool, alive: Bool) {
        let constraint = try GrammarConstraint(grammar: CompiledGrammar(gbnf: gbnf), vocabulary: bytes)
        return { text in
            var cursor = constraint.start()
            cursor.advance(bytes: Array(text.utf8))
            return (!cursor.isDead && cursor.isComplete, !cursor.isDead)
        }
    }

    func check(_ gbnf: String, accepts: [String], rejects: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let m = try Self.matcher(gbnf)
        for s in accepts { XCTAssertTrue(m(s).complete, "should accept \(s.debugDescription)", file: file, line: line) }
        for s in rejects { XCTAssertFalse(m(s).complete, "should reject \(s.debugDescription)", file: file, line: line) }
    }

    func testLiteralsAndEscapes() throws {
        try check(#"root ::= "a\n\t\"\\\x41\u00e9\U0001F600""#, accepts: ["a\n\t\"\\Aé😀"], rejects: ["a", "a\n\t\"\\Aé"])
    }

    func testAlternationSequenceGroups() throws {
        try check(#"root ::= ("ab" | "c") "d" | "e""#, accepts: ["abd", "cd", "e"], rejects: ["ab", "d", "ed", "abde"])
    }

    func testRepetitions() throws {
        try check(#"root ::= "a"? "b"* "c"+"#, accepts: ["c", "ac", "abbcc", "bbc"], rejects: ["", "a", "ab", "aac"])
        try check(#"root ::= "x"{3}"#, accepts: ["xxx"], rejects: ["xx", "xxxx"])
        try check(#"root ::= "x"{2,}"#, accepts: ["xx", "xxxxxxx"], rejects: ["x"])
        try check(#"root ::= "x"{1,3} "y"{0,1}"#, accepts: ["x", "xxx", "xxy"], rejects: ["xxxx", "y", "xyy"])
        try check(#"root ::= ("ab"){0,2}"#, accepts: ["", "ab", "abab"], rejects: ["a", "ababab"])
    }

    func testCharacterClasses() throws {
        try check(#"root ::= [a-c0-9_]+ [^x-z\n]"#, accepts: ["a1_w", "cé"], rejects: ["ax", "dd", "a\n"])
        try check(#"root ::= [\]\-^]"#, accepts: ["]", "-", "^"], rejects: ["a"])
        try check(#"root ::= [\u00e0-\u00ff]"#, accepts: ["é"], rejects: ["e", "Ā"])
        try check(#"root ::= . ."#, accepts: ["ab", "é😀"], rejects: ["a"])
    }

    func testRulesCommentsAndNewlines() throws {
        let g = """
            # a comment
            root ::= greeting " " name   # trailing comment
            greeting ::= "hi" |
                "hello"
            name ::= (
                [A-Z] [a-z]*
            )
            """
        try check(g, accepts: ["hi Ann", "hello B"], rejects: ["hi ann", "hey Ann"])
    }

    func testUTF8SplitAcrossBytes() throws {
        let m = try Self.matcher(#"root ::= "é" [a-z]"#)
        XCTAssertTrue(m("\u{e9}").alive)
        let constraint = try GrammarConstraint(grammar: CompiledGrammar(gbnf: #"root ::= [\u00e9] | [\u4e00]"#), vocabulary: Self.bytes)
        var c = constraint.start()
        c.advance(bytes: [0xC3])  // first byte of é
        XCTAssertFalse(c.isDead)
        XCTAssertFalse(c.isComplete)
        c.advance(bytes: [0xA9])
        XCTAssertTrue(c.isComplete)
        var d = constraint.start()
        d.advance(bytes: [0xC3, 0xA8])  // è: a prefix that is no longer possible
        XCTAssertTrue(d.isDead)
        var e = constraint.start()
        e.advance(bytes: [0xE4])  // lead of U+4E00..U+4FFF: still possible
        XCTAssertFalse(e.isDead)
        e.advance(bytes: [0xB8])  // U+4E00..U+4E3F
        XCTAssertFalse(e.isDead)
        e.advance(bytes: [0x81])  // U+4E01
        XCTAssertTrue(e.isDead)
    }

    func testInvalidUTF8IsRejected() throws {
        let constraint = try GrammarConstraint(grammar: CompiledGrammar(gbnf: "root ::= .*"), vocabulary: Self.bytes)
        for bad: [UInt8] in [[0x80], [0xC0, 0x80], [0xE0, 0x80], [0xED, 0xA0], [0xF4, 0x90], [0xFF]] {
            var c = constraint.start()
            c.advance(bytes: bad)
            XCTAssertTrue(c.isDead, "\(bad)")
        }
    }

    func error(_ gbnf: String) -> GrammarError? {
        do {
            _ = try CompiledGrammar(gbnf: gbnf)
            return nil
        } catch {
            return error as? GrammarError
        }
    }

    func testErrorsHavePositions() {
        XCTAssertEqual(error("root ::= \"abc"), .syntax(line: 1, column: 14, message: "unterminated string literal"))
        XCTAssertEqual(error("root ::= [a-"), .syntax(line: 1, column: 13, message: "unterminated character class"))
        XCTAssertEqual(error("root ::= \"a\"\nx = \"b\""), .syntax(line: 2, column: 3, message: "expected '::=' after rule name 'x'"))
        XCTAssertEqual(error("root ::= (\"a\""), .syntax(line: 1, column: 14, message: "expected ')'"))
        XCTAssertEqual(error("root ::= \"a\"{3,1}"), .syntax(line: 1, column: 18, message: "repetition {3,1}: the maximum is below the minimum"))
        XCTAssertEqual(error("root ::= \"\\q\""), .syntax(line: 1, column: 13, message: "unknown escape '\\q'"))
        XCTAssertEqual(error("root ::= \"a\" )"), .syntax(line: 1, column: 14, message: "unexpected ')'"))
        XCTAssertEqual(error("root ::= [z-a]"), .syntax(line: 1, column: 14, message: "character range is backwards"))
        XCTAssertEqual(error("root ::= \"a\"{99999}"), .syntax(line: 1, column: 18, message: "repetition count above 10000"))
        XCTAssertEqual(error("root ::= a\na ::= \"x\" b"), .unknownRule(name: "b", line: 2, column: 11))
        XCTAssertEqual(error("root ::= \"x\"\nroot ::= \"y\""), .duplicateRule(name: "root", line: 2, column: 1))
        XCTAssertEqual(error("start ::= \"x\""), .missingRoot)
        XCTAssertEqual(error("root ::= \"a\"?*+?*"), .syntax(line: 1, column: 17, message: "more than 4 repetition operators on one item"))
        XCTAssertEqual(error("root ::= expr\nexpr ::= expr \"+\" \"1\" | \"1\""), .leftRecursion(rule: "expr"))
        XCTAssertEqual(error("root ::= a\na ::= b? a \"x\" | \"y\"\nb ::= \"z\""), .leftRecursion(rule: "a"))
        XCTAssertEqual(error("root ::= [^\\x00-\\U0010FFFF]"), .emptyLanguage(rule: "root"))
        XCTAssertEqual(error("root ::= a\na ::= \"x\" a"), .emptyLanguage(rule: "root"))
        // Nested repetitions cost one element per level (each level is a rule), but counts add up.
        XCTAssertNil(error("root ::= (((\"a\"){100}){100}){100}"))
        let huge = "root ::= " + String(repeating: "\"a\"{9000} ", count: 25)
        XCTAssertEqual(error(huge), .tooLarge("more than 200000 elements after expanding repetitions"))
        XCTAssertEqual(GrammarError.syntax(line: 2, column: 3, message: "m").localizedDescription, "grammar:2:3: m")
    }

    func testDeepChainsEndInADeadStateNotACrash() throws {
        // 3,000 rules each just naming the next: expanding the start passes the depth limit.
        var g = "root ::= r0\n"
        for i in 0..<3000 { g += "r\(i) ::= r\(i + 1)\n" }
        g += "r3000 ::= \"x\"\n"
        XCTAssertThrowsError(try GrammarConstraint(grammar: CompiledGrammar(gbnf: g), vocabulary: Self.bytes))
    }

    func testUnproductiveAlternativesAreDropped() throws {
        // `b` can never finish, so "a" must not be allowed to start it.
        let m = try Self.matcher("root ::= \"a\" b | \"c\"\nb ::= \"x\" b")
        XCTAssertFalse(m("a").alive)
        XCTAssertTrue(m("c").complete)
    }
}
