import ArgumentParser
import DollyKit
import Foundation

struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Answer instructions read from stdin, one per line, until end of input.",
        discussion: """
            Each instruction is answered on its own, as Dolly's pipeline does (no history). With --history, \
            earlier instructions and answers come before each new one, written as Dolly's training records in \
            order, and the cache of them is kept, so only the new turn is computed; the oldest turns are left out \
            when the context is full, and /new starts over. A line ending in \\ continues on the next line. \
            Context (Dolly's "Input:", for questions about a passage, summaries, extraction) applies to every following instruction until it is changed:
              /input             the context's lines follow, ended by a line /end
              /input-file PATH   the context from a UTF-8 file
              /clear             no context
              /new               forget earlier turns (with --history)
              /help              this list
            --input or --input-file sets a context from the start. Ctrl-C stops the answer being written and \
            returns to the prompt; Ctrl-C at the prompt, or end of input, exits.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var contextOptions: ContextOptions
    @OptionGroup var constraint: ConstraintOptions
    @OptionGroup var speculation: SpeculationOptions

    @Flag(name: .long, help: "Show the model earlier turns of the conversation (Dolly answers each on its own by default).")
    var history = false

    static let help = """
        /input             then the context's lines, ended by a line /end
        /input-file PATH   read the context from a UTF-8 file
        /clear             forget the context
        /new               forget earlier turns (with --history)
        a line ending in \\ continues on the next line; Ctrl-C stops an answer
        """

    func run() throws {
        Interrupt.install()
        try Console.guarded {
            var context = try contextOptions.read()
            let grammar = try constraint.compile()
            let (model, session) = try modelOptions.load()
            let draft = try speculation.loadDraft(for: model, session: session)
            let conversation = history ? Conversation(model: model, session: session) : nil
            // One compiled constraint for the whole conversation: its caches carry over between answers.
            var sampling = self.sampling.parameters
            sampling.constraint = try ConstraintOptions.constraint(grammar, model: model)
            let interactive = isatty(0) != 0
            let input = LineReader()
            func prompt(_ mark: String) { if interactive { Console.note(mark, terminator: " ") } }
            while true {
                prompt(context == nil ? ">" : "[input] >")
                guard var line = input.next(), !Interrupt.requested else {
                    if interactive { Console.note("") }  // leave the shell's prompt on a line of its own
                    break
                }
                while line.hasSuffix("\\") {
                    line.removeLast()
                    prompt(".")
                    guard let more = input.next() else { break }
                    line += "\n" + more
                }
                let instruction = line.trimmingCharacters(in: .whitespaces)
                switch instruction {
                case "": continue
                case "/help":
                    Console.note(Self.help)
                    continue
                case "/clear":
                    context = nil
                    Console.note("(context cleared)")
                    continue
                case "/new":
                    conversation?.clear()
                    Console.note(conversation == nil ? "(no history to forget: answers are independent without --history)"
                                                     : "(new conversation)")
                    continue
                case "/input":
                    var lines: [String] = []
                    while true {
                        prompt("|")
                        guard let l = input.next(), l.trimmingCharacters(in: .whitespaces) != "/end" else { break }
                        lines.append(l)
                    }
                    context = lines.joined(separator: "\n")
                    Console.note("(context: \(context!.count) characters)")
                    continue
                default:
                    break
                }
                if instruction.hasPrefix("/input-file ") {
                    let path = String(instruction.dropFirst("/input-file ".count)).trimmingCharacters(in: .whitespaces)
                    do {
                        context = try TextFile.read(path, what: "/input-file")
                        Console.note("(context: \(context!.count) characters from \(path))")
                    } catch {
                        Console.note("dolly: error: \(error.localizedDescription)")
                    }
                    continue
                }
                do {
                    var request = self.sampling.request(instruction, context: context)
                    request.sampling = sampling
                    speculation.apply(to: &request)
                    let write: (String) throws -> Bool = { piece in
                        Console.write(piece)
                        return true
                    }
                    let result: GenerationResult
                    var dropped = 0
                    if let conversation {
                        let turn = try conversation.answer(request, draft: draft, isCancelled: { Interrupt.requested }, onText: write)
                        dropped = turn.droppedExchanges
                        result = turn.result
                    } else {
                        result = try model.generate(request, session: session, draft: draft, isCancelled: { Interrupt.requested },
                                                    onText: write)
                    }
                    Console.write("\n")
                    if dropped > 0 { Console.note("(left out the \(dropped) oldest turn\(dropped == 1 ? "" : "s"): the context is full)") }
                    if result.stopReason == .cancelled {
                        Console.note("(stopped)")
                        Interrupt.clear()
                    }
                } catch {
                    // One bad line (e.g. too long for the context) must not end the conversation.
                    Console.note("dolly: error: \(error.localizedDescription)")
                }
            }
        }
    }
}
