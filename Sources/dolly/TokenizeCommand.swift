import ArgumentParser
import DollyKit
import Foundation

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids of a text, space separated.",
        discussion: "--model may also be a tokenizer.json.")

    @OptionGroup var path: ModelPathOption

    @Argument(help: "The text to tokenize.")
    var text: String

    func run() throws {
        try Console.guarded {
            let tokenizer = try Tokenizer.load(modelPath: path.model)
            Console.write(tokenizer.encode(text).map(String.init).joined(separator: " ") + "\n")
        }
    }
}
