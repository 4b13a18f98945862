import ArgumentParser
import CSIMD
import DollyKit

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Answer one instruction (or continue a raw prompt), streaming the text to stdout.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions

    @Flag(name: .long, help: "Treat the text as a plain prompt instead of an instruction.")
    var raw = false

    @Flag(name: .long, help: "Print timings to stderr.")
    var verbose = false

    @Argument(help: "The instruction (or, with --raw, the prompt).")
    var text: String

    func run() throws {
        // Ctrl-C (from here on) stops generation after the current token: what was generated stays printed.
        _ = csimd_interrupt_install()
        try Console.guarded {
            let (model, session) = try modelOptions.load()
            let request = GenerationRequest(text: text, raw: raw, maxNewTokens: sampling.maxTokens,
                                            sampling: sampling.parameters)
            let result = try model.generate(request, session: session, isCancelled: { csimd_interrupt_requested() != 0 }) { piece in
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
            if verbose {
                let n = result.tokens.count
                Console.note(String(format: "prompt: %d tokens in %.2f s (%.1f tok/s); generated: %d tokens in %.2f s (%.1f tok/s); stop: %@",
                                    result.promptTokens, result.promptSeconds, Double(result.promptTokens) / max(result.promptSeconds, 1e-9),
                                    n, result.generationSeconds, Double(n) / max(result.generationSeconds, 1e-9), result.stopReason.rawValue))
            }
        }
    }
}
