import ArgumentParser
import DollyKit
import Foundation

struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Answer instructions read from stdin, one per line, until end of input.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions

    func run() throws {
        try Console.guarded {
            let (model, session) = try modelOptions.load()
            let interactive = isatty(0) != 0
            while true {
                if interactive { Console.note(">") }
                guard let line = readLine(strippingNewline: true) else { break }
                let instruction = line.trimmingCharacters(in: .whitespaces)
                if instruction.isEmpty { continue }
                let request = GenerationRequest(text: instruction, maxNewTokens: sampling.maxTokens,
                                                sampling: sampling.parameters)
                do {
                    try model.generate(request, session: session) { piece in
                        Console.write(piece)
                        return true
                    }
                    Console.write("\n")
                } catch {
                    // One bad line (e.g. too long for the context) must not end the conversation.
                    Console.note("dolly: error: \(error.localizedDescription)")
                }
            }
        }
    }
}
