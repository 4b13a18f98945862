import DollyKit
import Foundation
import XCTest

/// `--print-grammar`: the GBNF a constraint flag stands for, on stdout, without loading a model (the
/// same text then goes to llama.cpp's `--grammar-file`).
extension CLITests {
    func testPrintGrammarPrintsTheGBNFWithoutAModel() throws {
        let missing = "/nonexistent/model"  // never opened
        let schema = #"{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"]}"#
        let fromSchema = try dolly(["run", "--model", missing, "--print-grammar", "--json-schema", schema, "x"])
        XCTAssertEqual(fromSchema.status, 0, fromSchema.stderr)
        XCTAssertEqual(fromSchema.stderr, "")
        let expected = try JSONSchemaGrammar.gbnf(schema: schema)
        XCTAssertEqual(fromSchema.stdout, expected.hasSuffix("\n") ? expected : expected + "\n")

        let json = try dolly(["bench", "--model", missing, "--json", "--print-grammar"])
        XCTAssertEqual(json.status, 0, json.stderr)
        XCTAssertEqual(json.stdout.trimmingCharacters(in: .newlines),
                       JSONSchemaGrammar.anyObjectGBNF.trimmingCharacters(in: .newlines))

        // What it prints is a --grammar file that prints itself back.
        let dir = try FixturePaths.temporaryDirectory("dolly-cli-print-grammar")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("schema.gbnf")
        try Data(fromSchema.stdout.utf8).write(to: file)
        let back = try dolly(["chat", "--model", missing, "--print-grammar", "--grammar", file.path])
        XCTAssertEqual(back.status, 0, back.stderr)
        XCTAssertEqual(back.stdout, fromSchema.stdout)

        XCTAssertNotEqual(try dolly(["run", "--model", missing, "--print-grammar", "x"]).status, 0)
        assertCleanFailure(try dolly(["run", "--model", missing, "--print-grammar", "--json-schema", #"{"type":"#, "x"]),
                           mentions: "not valid JSON")
    }
}
