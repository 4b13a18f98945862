import ArgumentParser
import DollyKit

/// `--grammar`, `--json-schema`, `--json`: restrict the output to a language (run and chat).
struct ConstraintOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Only generate text in this GBNF grammar (llama.cpp's syntax; its 'root' rule).",
                                            valueName: "FILE"))
    var grammar: String?

    @Option(name: .customLong("json-schema"), help: ArgumentHelp(
        "Only generate JSON that matches this JSON Schema: a file, or the schema itself when it starts with '{'.",
        valueName: "FILE|JSON"))
    var jsonSchema: String?

    @Flag(name: .long, help: "Only generate a JSON object (any keys and values).")
    var json = false

    func validate() throws {
        if [grammar != nil, jsonSchema != nil, json].filter({ $0 }).count > 1 {
            throw ValidationError("give one of --grammar, --json-schema and --json")
        }
    }

    /// The grammar asked for, compiled (nil when none): before the model loads, so a bad grammar
    /// fails at once.
    func compile() throws -> CompiledGrammar? {
        if let grammar {
            return try CompiledGrammar(gbnf: TextFile.read(grammar, what: "--grammar"))
        }
        if let jsonSchema {
            let trimmed = jsonSchema.drop { $0 == " " || $0 == "\n" || $0 == "\t" }
            let text = trimmed.hasPrefix("{") ? jsonSchema : try TextFile.read(jsonSchema, what: "--json-schema")
            return try JSONSchemaGrammar.compile(schema: text)
        }
        if json { return try CompiledGrammar(gbnf: JSONSchemaGrammar.anyObjectGBNF) }
        return nil
    }

    /// `grammar` bound to `model`'s vocabulary.
    static func constraint(_ grammar: CompiledGrammar?, model: DollyModel) throws -> GrammarConstraint? {
        guard let grammar else { return nil }
        return try GrammarConstraint(grammar: grammar, vocabulary: TokenVocabulary(tokenizer: model.tokenizer))
    }
}
