import ArgumentParser
import DollyKit

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Answer one instruction (or continue a raw prompt), streaming the text to stdout.",
        discussion: """
            The instruction is wrapped in Dolly's prompt template; --input or --input-file adds context the way \
            the model card does ("{instruction}\\n\\nInput:\\n{context}"). Give - as the text to read it from stdin.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var context: ContextOptions
    @OptionGroup var constraint: ConstraintOptions
    @OptionGroup var speculation: SpeculationOptions

    @Flag(name: .long, help: "Treat the text as a plain prompt instead of an instruction.")
    var raw = false

    @Flag(name: .long, help: "Print timings to stderr.")
    var verbose = false

    @Flag(name: .long, help: "Check every tensor's CRC-32 before the first token (reads the whole .dolly file once: 0.9 s for 3b q4, 3.8 s for 12b q4 from the page cache).")
    var verify = false

    @Argument(help: "The instruction (or, with --raw, the prompt); - reads it from stdin.")
    var text: String

    func validate() throws {
        if raw && (context.input != nil || context.inputFile != nil) {
            throw ValidationError("--input and --input-file give context to an instruction; a --raw prompt takes none")
        }
    }

    func run() throws {
        // Ctrl-C (from here on) stops generation after the current token: what was generated stays printed.
        Interrupt.install()
        try Console.guarded {
            var text = self.text
            if text == "-" {
                text = try TextFile.readStandardInput(what: "standard input")
                // A file or `echo` ends in a newline that is not part of the instruction.
                while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
            }
            let contextText = try context.read()
            let grammar = try constraint.compile()  // a bad grammar is refused before any file is read
            if verify {
                guard DollyFile.hasMagic(path: modelOptions.model) else {
                    throw ValidationError("--verify checks a .dolly file's tensor checksums; \(modelOptions.model) is not one")
                }
                try DollyFile(path: modelOptions.model).verify()
            }
            let (model, session) = try modelOptions.load()
            let draft = try speculation.loadDraft(for: model, session: session)
            var request = sampling.request(text, context: contextText, raw: raw)
            speculation.apply(to: &request)
            request.sampling.constraint = try ConstraintOptions.constraint(grammar, model: model)
            let result = try model.generate(request, session: session, draft: draft, isCancelled: { Interrupt.requested }) { piece in
                Console.write(piece)
                return true
            }
            Console.write("\n")
            if result.stopReason == .cancelled {
                Console.note("dolly: interrupted")
                throw ExitCode(130)
            }
            if result.stopReason == .contextFull {
                Console.note("dolly: stopped: the context (\(session.contextLength) tokens) is full")
            }
            if let constraint = request.sampling.constraint, result.stopReason == .maxTokens {
                var cursor = constraint.start()
                for t in result.tokens { cursor.advance(token: t) }
                Console.note(cursor.isComplete
                    ? "dolly: --max-tokens reached; the answer was closed to fit it (complete in the grammar)"
                    : "dolly: stopped: --max-tokens reached before the grammar was complete")
            }
            if result.stopReason == .noAllowedToken {
                Console.note("dolly: stopped: the grammar allows no token here")
            }
            if verbose {
                let n = result.tokens.count
                Console.note(String(format: "prompt: %d tokens in %.2f s (%.1f tok/s); generated: %d tokens in %.2f s (%.1f tok/s); stop: %@",
                                    result.promptTokens, result.promptSeconds, Double(result.promptTokens) / max(result.promptSeconds, 1e-9),
                                    n, result.generationSeconds, Double(n) / max(result.generationSeconds, 1e-9), result.stopReason.rawValue))
                if result.draftedTokens > 0 {
                    Console.note("speculation: \(result.acceptedTokens) of \(result.draftedTokens) guessed tokens accepted")
                }
            }
        }
    }
}
