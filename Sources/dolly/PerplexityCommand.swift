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

    @Option(name: .long, help: ArgumentHelp(
        "Also compare with this model (e.g. the unquantized folder): KL divergence and top-1 agreement per scored token.",
        valueName: "PATH"))
    var reference: String?

    func run() throws {
        try Console.guarded {
            let text = try TextFile.read(textFile, what: "text file")
            let (model, session) = try modelOptions.load(defaultContext: 512)
            let bar = ProgressBar(label: "perplexity", unit: "chunks", scale: 1)
            let update = { (done: Int, total: Int, ppl: Double) in
                bar.update(done: done, total: total, note: String(format: "ppl %.4f", ppl))
            }
            let result: PerplexityResult
            if let reference {
                let other = try DollyModel.load(path: reference)
                let otherSession = try other.network.makeSession(contextLength: session.contextLength, kvType: .f32,
                                                               threads: session.threads)
                let d = try model.divergence(from: other, text: text, context: session.contextLength, session: session,
                                             referenceSession: otherSession, progress: update)
                bar.finish()
                result = d.perplexity
                Console.write(String(format: "reference perplexity: %.4f\n", d.referencePerplexity))
                Console.write(String(format: "KL divergence: mean %.6f +/- %.6f, max %.4f\n", d.meanKL, d.klStandardError, d.maxKL))
                Console.write(String(format: "top-1 agreement: %.2f%%\n", 100 * d.top1Agreement))
            } else {
                result = try model.perplexity(text: text, context: session.contextLength, session: session, progress: update)
                bar.finish()
            }
            Console.note("scored \(result.scoredTokens) tokens in \(result.chunks) windows of \(session.contextLength)")
            Console.write(String(format: "perplexity: %.4f +/- %.4f\n", result.perplexity, result.standardError))
        }
    }
}
