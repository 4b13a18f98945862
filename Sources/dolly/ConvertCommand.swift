import ArgumentParser
import DollyKit
import Foundation

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a Hugging Face Dolly checkpoint into one quantized .dolly file.",
        discussion: """
            The output appears only when complete (a failed, interrupted or killed conversion leaves nothing), and \
            replaces an existing .dolly file in one step. It is refused when it is one of the inputs or inside the \
            checkpoint folder, and when it exists and is not a .dolly file (unless --force).
            """)

    @Argument(help: "The Hugging Face model folder (config.json, tokenizer.json, pytorch_model.bin or safetensors).")
    var source: String

    @Option(name: .shortAndLong, help: "The .dolly file to write.")
    var output: String

    @Option(name: .long, help: "Quantization recipe: q4 (default, 4.5 bits per layer weight), q3 (3.5), q4-uniform (q4 of format 1.0), q8, f16 or f32 (nothing rounded).")
    var quant = QuantizationRecipe.q4

    @Option(name: .long, help: ArgumentHelp("Fit the 4- and 3-bit blocks with this importance matrix (dolly imatrix): with its input covariances, each rounding error is compensated by the later columns (GPTQ); without, errors are weighted by it.",
                                            valueName: "FILE"))
    var imatrix: String?

    @Option(name: .long, help: "How 4- and 3-bit fitting weighs each weight's error: uniform or magnitude (default; uniform with an input covariance), times a diagonal importance matrix if given.")
    var weighting: QuantWeighting?

    @Flag(name: .long, help: "Replace the output even if it exists and is not a .dolly file (never an input).")
    var force = false

    @OptionGroup var adapter: LoRAMergeOptions

    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try Console.guarded {
            // Refused before anything else is touched; the converter checks again as it opens the file.
            let otherInputs = (imatrix.map { [$0] } ?? []) + (adapter.lora.map { [$0] } ?? [])
            _ = try OutputGuard.check(output: output, inputs: [source] + otherInputs,
                                      magic: FileHeader.magic, kind: "a .dolly file", force: force)
            OutputFile.prepare(output)
            let bar = ProgressBar(label: "convert")
            var converter = Converter(sourceDirectory: source, recipe: quant)
            converter.importance = try imatrix.map { try ImportanceMatrix(contentsOf: $0) }
            converter.otherInputs = otherInputs
            // The adapter is checked against the base before anything is read or written.
            converter.lora = try adapter.lora == nil ? nil : adapter.merge(config: LoRAMergeOptions.config(ofFolder: source))
            converter.force = force
            converter.weighting = weighting
            converter.threads = threads.count
            try OutputFile.interruptible({
                let summary = try converter.convert(
                    to: output,
                    progress: { bar.update(done: $0.done, total: $0.total, note: $0.phase.rawValue) },
                    isCancelled: { Interrupt.requested })
                bar.finish()
                if let lora = converter.lora { Console.note(LoRAMergeOptions.describe(lora)) }
                Console.note(String(format: "wrote %@: %.1f MB, %d tensors, %.2f bits/weight (matrices), %.1f s",
                                    summary.outputPath, Double(summary.outputBytes) / 1e6, summary.tensors,
                                    summary.matrixBitsPerWeight, summary.seconds))
            }, cleanup: { bar.finish() })
        }
    }
}
