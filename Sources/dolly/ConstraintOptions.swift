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

    @Flag(name: .customLong("print-grammar"), help: ArgumentHelp(
        "Print the GBNF that --grammar, --json-schema or --json stands for to stdout and exit; no model is loaded.",
        discussion: "The text is llama.cpp's GBNF too (llama-cli --grammar-file). The other required arguments must still be given."))
    var printGrammar = false

    func validate() throws {
        if [grammar != nil, jsonSchema != nil, json].filter({ $0 }).count > 1 {
            throw ValidationError("give one of --grammar, --json-schema and --json")
        }
        if printGrammar {
            guard grammar != nil || jsonSchema != nil || json else {
                throw ValidationError("--print-grammar prints the grammar of --grammar, --json-schema or --json; give one")
            }
            try Console.guarded {
                let text = try gbnf() ?? ""
                _ = try CompiledGrammar(gbnf: text)  // what would be refused at run time is refused here too
                Console.write(text.hasSuffix("\n") ? text : text + "\n")
            }
            throw ExitCode.success
        }
    }

    /// The GBNF text asked for (nil when none): the --grammar file as it is, the schema compiled to GBNF,
    /// or the any-object grammar of --json.
    func gbnf() throws -> String? {
        if let grammar {
            return try TextFile.read(grammar, what: "--grammar")
        }
        if let jsonSchema {
            let trimmed = jsonSchema.drop { $0 == " " || $0 == "\n" || $0 == "\t" }
            let text = trimmed.hasPrefix("{") ? jsonSchema : try TextFile.read(jsonSchema, what: "--json-schema")
            return try JSONSchemaGrammar.gbnf(schema: text)
        }
        if json { return JSONSchemaGrammar.anyObjectGBNF }
        return nil
    }

    /// The grammar asked for, compiled (nil when none): before the model loads, so a bad grammar
    /// fails at once.
    func compile() throws -> CompiledGrammar? {
        try gbnf().map { try CompiledGrammar(gbnf: $0) }
    }

    /// `grammar` bound to `model`'s vocabulary.
    static func constraint(_ grammar: CompiledGrammar?, model: DollyModel) throws -> GrammarConstraint? {
        guard let grammar else { return nil }
        return try GrammarConstraint(grammar: grammar, vocabulary: TokenVocabulary(tokenizer: model.tokenizer))
    }
}
