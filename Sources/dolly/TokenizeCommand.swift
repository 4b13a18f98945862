import ArgumentParser
import DollyKit
import Foundation

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids of a text, space separated.",
        discussion: "--model may also be a tokenizer.json. Long texts: --file (an argument is limited to 128 KiB on Linux).")

    @OptionGroup var path: ModelPathOption

    @Option(name: .long, help: ArgumentHelp("Tokenize this UTF-8 file instead of the argument ('-': standard input).",
                                            valueName: "PATH"))
    var file: String?

    @Argument(help: "The text to tokenize.")
    var text: String?

    func validate() throws {
        guard (text == nil) != (file == nil) else { throw ValidationError("give either the text or --file, not both") }
    }

    func run() throws {
        try Console.guarded {
            let input = try text ?? (file == "-" ? TextFile.readStandardInput(what: "standard input")
                                                : TextFile.read(file!, what: "--file"))
            let tokenizer = try Tokenizer.load(modelPath: path.model)
            Console.write(tokenizer.encode(input).map(String.init).joined(separator: " ") + "\n")
        }
    }
}
