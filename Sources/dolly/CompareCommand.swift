import ArgumentParser
import DollyKit
import Foundation

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare greedy answers with a reference model's (e.g. a quantized file with the unquantized folder).",
        discussion: """
            For each instruction prints whether the two greedy answers are identical and, if not, the token where \
            they part and the reference's top-1 minus top-2 logit there: a small margin means the reference itself \
            nearly tied. The last line counts identical answers.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var processors: ProcessorOptions
    @OptionGroup var context: ContextOptions

    @Option(name: .long, help: ArgumentHelp("The model to compare with.", valueName: "PATH"))
    var reference: String

    @Option(name: .long, help: ArgumentHelp("A file of instructions, one per line.", valueName: "FILE"))
    var instructions: String?

    @Option(name: .long, help: "Most tokens per answer.")
    var maxTokens = 64

    @Flag(name: .long, help: "Treat the texts as plain prompts instead of instructions.")
    var raw = false

    @Argument(help: "Instructions (or, with --raw, prompts), in addition to --instructions.")
    var texts: [String] = []

    func validate() throws {
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1") }
        guard instructions != nil || !texts.isEmpty else { throw ValidationError("give instructions as arguments or with --instructions FILE") }
        if raw && (context.input != nil || context.inputFile != nil) {
            throw ValidationError("--input and --input-file give context to instructions; --raw prompts take none")
        }
    }

    func run() throws {
        try Console.guarded {
            var all = texts
            if let instructions {
                let text = try TextFile.read(instructions, what: "--instructions")
                all = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty } + all
            }
            let contextText = try context.read()
            let sampling = processors.applied(to: .greedyDecoding)
            let (model, session) = try modelOptions.load(defaultContext: 512)
            let other = try DollyModel.load(path: reference)
            let otherSession = try other.network.makeSession(contextLength: session.contextLength, kvType: .f32,
                                                               threads: session.threads)
            var identical = 0
            for (n, text) in all.enumerated() {
                let request = GenerationRequest(text: text, context: contextText, raw: raw, maxNewTokens: maxTokens,
                                                sampling: sampling)
                let c = try model.compareGreedy(with: other, request: request, session: session, referenceSession: otherSession)
                if c.identical {
                    identical += 1
                    Console.write("\(n + 1)\tidentical (\(c.tokens.count) tokens)\t\(text)\n")
                } else {
                    let margin = c.marginAtDivergence.map { String(format: "%.4f", $0) } ?? "-"
                    Console.write("\(n + 1)\tdiverges at token \(c.divergence! + 1): reference margin \(margin) "
                                  + String(format: "(median %.3f)", c.medianReferenceMargin) + "\t\(text)\n")
                }
            }
            Console.write("identical: \(identical)/\(all.count)\n")
        }
    }
}
