import ArgumentParser
import DollyKit
import Foundation

struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Measure perplexity on a text file (llama.cpp's method); the figure is on the last line.")

    @OptionGroup var modelOptions: ModelOptions

    @Argument(help: "A UTF-8 text file.")
    var textFile: String

    func run() throws {
        try Console.guarded {
            guard let data = FileManager.default.contents(atPath: textFile) else { throw ModelError.missingFile(textFile) }
            guard let text = String(data: data, encoding: .utf8) else {
                throw ValidationError("\(textFile) is not UTF-8 text")
            }
            let (model, session) = try modelOptions.load(defaultContext: 512)
            let bar = ProgressBar(label: "perplexity", unit: "chunks", scale: 1)
            let result = try model.perplexity(text: text, context: session.contextLength, session: session) { done, total, ppl in
                bar.update(done: done, total: total, note: String(format: "ppl %.4f", ppl))
            }
            bar.finish()
            Console.note("scored \(result.scoredTokens) tokens in \(result.chunks) windows of \(session.contextLength)")
            Console.write(String(format: "perplexity: %.4f +/- %.4f\n", result.perplexity, result.standardError))
        }
    }
}
