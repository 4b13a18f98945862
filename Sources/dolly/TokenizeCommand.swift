import ArgumentParser
import DollyKit
import Foundation

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids of a text, space separated.")

    @Option(name: .long, help: "A .dolly file, a Hugging Face Dolly folder, or a tokenizer.json.")
    var model: String

    @Argument(help: "The text to tokenize.")
    var text: String

    func run() throws {
        try Console.guarded {
            let tokenizer = try Tokenizer.load(modelPath: model)
            Console.write(tokenizer.encode(text).map(String.init).joined(separator: " ") + "\n")
        }
    }
}
