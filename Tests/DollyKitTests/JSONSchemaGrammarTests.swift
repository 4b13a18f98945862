@testable import DollyKit
import XCTest

/// JSON Schema → grammar: what each keyword lets through, and the errors for what is not supported.
final class JSONSchemaGrammarTests: XCTestCase {
    func matcher(_ schema: String) throws -> (String) -> Bool {
        let m = try GrammarParserTests.matcher(JSONSchemaGrammar.gbnf(schema: schema))
        return { m($0).complete }
    }

    func check(_ schema: String, accepts: [String], rejects: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let m = try matcher(schema)
        for s in accepts { XCTAssertTrue(m(s), "should accept \(s)", file: file, line: line) }
        for s in rejects { XCTAssertFalse(m(s), "should reject \(s)", file: file, line: line) }
    }

    func testScalars() throws {
        try check(#"{"type": "string"}"#, accepts: [#""""#, #""a \"q\" \u00e9 é""#, #" "x" "#], rejects: [#""a"#, "\"\n\"", "1"])
        try check(#"{"type": "integer"}"#, accepts: ["0", "-12", "123456"], rejects: ["01", "1.5", "-", "+1"])
        try check(#"{"type": "number"}"#, accepts: ["0", "-1.25", "3e10", "2.5E-3"], rejects: ["1.", ".5", "1e"])
        try check(#"{"type": "boolean"}"#, accepts: ["true", "false"], rejects: ["True", "1"])
        try check(#"{"type": "null"}"#, accepts: ["null"], rejects: ["nil", ""])
        try check(#"{"type": ["integer", "null"]}"#, accepts: ["1", "null"], rejects: ["true"])
        try check(#"{"type": "string", "minLength": 2, "maxLength": 3}"#, accepts: [#""ab""#, #""abc""#], rejects: [#""a""#, #""abcd""#])
    }

    func testEnumConstAnyOf() throws {
        try check(#"{"enum": ["red", "green", 3, null]}"#, accepts: [#""red""#, #""green""#, "3", "null"], rejects: [#""blue""#, "4"])
        try check(#"{"const": {"b": [1, "x/y"], "a": true}}"#, accepts: [#"{"a":true,"b":[1,"x/y"]}"#], rejects: [#"{"a":true}"#])
        try check(#"{"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 1}]}"#, accepts: ["7", #""z""#], rejects: [#""zz""#])
    }

    func testObjects() throws {
        let schema = #"""
            {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
             "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2}},
             "required": ["name"], "additionalProperties": false}
            """#
        try check(schema, accepts: [#"{"name":"a"}"#, #"{ "name" : "a", "age": 3 }"#, #"{"name":"a","tags":["x","y"]}"#,
                                    #"{"name":"a","age":1,"tags":[]}"#],
                  rejects: [#"{}"#, #"{"age":3}"#, #"{"name":"a",}"#, #"{"name":"a","tags":["x","y","z"]}"#,
                            #"{"name":"a","other":1}"#, #"{"age":3,"name":"a"}"#])
        try check(#"{"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}"#,
                  accepts: ["{}", #"{"a":1}"#, #"{"b":2}"#, #"{"a":1,"b":2}"#], rejects: [#"{,"b":2}"#, #"{"a":1"b":2}"#])
        try check(#"{"type": "object"}"#, accepts: ["{}", #"{"k": [1, {"z": null}], "j": "s"}"#], rejects: ["[]", #"{"k"}"#])
        try check(#"{"type": "object", "additionalProperties": {"type": "integer"}}"#, accepts: [#"{"x":1,"y":2}"#], rejects: [#"{"x":"1"}"#])
    }

    func testArraysAndRefs() throws {
        try check(#"{"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3}"#,
                  accepts: ["[1,2]", "[1, 2, 3]"], rejects: ["[1]", "[1,2,3,4]", "[]"])
        let schema = #"""
            {"$defs": {"point": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
             "required": ["x", "y"]}}, "type": "array", "items": {"$ref": "#/$defs/point"}}
            """#
        try check(schema, accepts: [#"[{"x":1,"y":2},{"x":0.5,"y":-1}]"#, "[]"], rejects: [#"[{"x":1}]"#])
    }

    func testAnyObject() throws {
        let m = try GrammarParserTests.matcher(JSONSchemaGrammar.anyObjectGBNF)
        XCTAssertTrue(m(#"{"a": [1, 2.5, "x", true, null, {}], "b": {"c": []}}"#).complete)
        XCTAssertFalse(m(#"[1]"#).complete)
        XCTAssertFalse(m(#"{"a": 1,}"#).complete)
    }

    func error(_ schema: String) -> GrammarError? {
        do {
            _ = try JSONSchemaGrammar.compile(schema: schema)
            return nil
        } catch {
            return error as? GrammarError
        }
    }

    func testErrors() {
        XCTAssertEqual(error("{nope"), .invalidSchema(path: "#", message: "not valid JSON"))
        XCTAssertEqual(error(#"{"type": "string", "format": "email"}"#), .unsupportedKeyword(path: "#/format", keyword: "format: email"))
        XCTAssertEqual(error(#"{"type": "string", "pattern": "(a"}"#),
                       .invalidSchema(path: "#/pattern", message: "pattern: missing ')' at character 3"))
        XCTAssertEqual(error(#"{"type": "string", "pattern": "(?=a)b"}"#),
                       .invalidSchema(path: "#/pattern", message: "pattern: lookaround and named groups are not supported at character 2"))
        XCTAssertEqual(error(#"{"type": "string", "pattern": "\#(String(repeating: "(", count: 5000))a\#(String(repeating: ")", count: 5000))"}"#),
                       .invalidSchema(path: "#/pattern", message: "pattern: groups nested deeper than 64 at character 65"))
        XCTAssertEqual(error(#"{"type": "string", "pattern": "(a)\\1"}"#),
                       .invalidSchema(path: "#/pattern", message: "pattern: backreferences are not supported at character 6"))
        XCTAssertEqual(error(#"{"type": "object", "properties": {"a": {"type": "integer", "minimum": 3}}}"#),
                       .unsupportedKeyword(path: "#/properties/a", keyword: "minimum"))
        XCTAssertEqual(error(#"{"type": "strin"}"#), .invalidSchema(path: "#/type", message: "unknown type 'strin'"))
        XCTAssertEqual(error(##"{"$defs": {"n": {"type": "array", "items": {"$ref": "#/$defs/n"}}}, "$ref": "#/$defs/n"}"##),
                       .badReference(path: "#/$defs/n/items", reference: "#/$defs/n", message: "recursive references are not supported"))
        XCTAssertEqual(error(##"{"$ref": "#/$defs/missing"}"##), .badReference(path: "#", reference: "#/$defs/missing", message: "points nowhere"))
        XCTAssertEqual(error(#"{"type": "object", "properties": {"a": {}}, "required": ["b"]}"#),
                       .invalidSchema(path: "#/required", message: "'b' is required but not in properties"))
        XCTAssertEqual(error(#"{"enum": []}"#), .invalidSchema(path: "#/enum", message: "enum must be a non-empty array"))
        XCTAssertEqual(error("false"), .invalidSchema(path: "#", message: "the schema false allows nothing"))
        XCTAssertEqual(error(#"{"type": "array", "minItems": 3, "maxItems": 1}"#), .invalidSchema(path: "#", message: "maxItems is below minItems"))
        XCTAssertEqual(GrammarError.unsupportedKeyword(path: "#/a", keyword: "format").localizedDescription,
                       "JSON schema at #/a: unsupported keyword 'format'")
    }
}
