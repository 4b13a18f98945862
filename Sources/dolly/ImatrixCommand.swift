import ArgumentParser
import DollyKit
import Foundation

struct ImatrixCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imatrix",
        abstract: "Measure an importance matrix (each layer matrix input's covariance) over calibration text.",
        discussion: """
            Run it on the unquantized model (a Hugging Face folder or an f16 file), on text that is not your evaluation text,
            then `dolly convert ... --imatrix FILE`. The file records the model it was measured on; convert refuses another.
            By default it holds each layer matrix input's covariance in diagonal bands (about 40 MB per layer of a 3b model),
            with which q4 and q3 compensate each rounding error by the columns it correlates with (GPTQ);
            --diagonal keeps only the per-column mean squares (llama-imatrix's statistic, a small file).
            With --lora the adapter is applied at run time (in f32, memory grows by its size only), so the statistics are
            the merged model's (up to float rounding): convert with the same --lora.
            """)

    @OptionGroup var path: ModelPathOption

    @Argument(help: "Calibration text (UTF-8).")
    var text: String

    @Option(name: .shortAndLong, help: "The importance matrix file to write.")
    var output: String

    @Option(name: .long, help: "Tokens per chunk (each chunk starts from an empty cache).")
    var context = 512

    @Option(name: .long, help: "Chunks to run at most (default: all the text holds).")
    var chunks: Int?

    @Option(name: .long, help: "Columns per diagonal band of the input covariance (a multiple of 32).")
    var band = InputCovariance.defaultBand

    @Flag(name: .long, help: "Only the per-column mean squares, no covariance.")
    var diagonal = false

    @Flag(name: .long, help: "Replace the output even if it exists and is not an importance matrix file (never an input).")
    var force = false

    @OptionGroup var adapter: LoRAMergeOptions

    @OptionGroup var threads: ThreadOptions

    func validate() throws {
        guard band > 0, band % 32 == 0, band <= 4096 else { throw ValidationError("--band must be a positive multiple of 32 up to 4096") }
        guard context >= 1 else { throw ValidationError("--context must be positive") }
        if let chunks, chunks < 1 { throw ValidationError("--chunks must be positive") }
    }

    func run() throws {
        try Console.guarded {
            // Refused before minutes of measuring, and checked again when written.
            let inputs = [path.model, text] + (adapter.lora.map { [$0] } ?? [])
            _ = try OutputGuard.check(output: output, inputs: inputs, magic: ImportanceMatrix.fileMagic,
                                      kind: "an importance matrix file", force: force)
            OutputFile.prepare(output)
            let calibration = try TextFile.read(text, what: "calibration text")
            let model = try DollyModel.load(path: path.model)
            // Calibration sees the model the conversion with the same --lora will write: each layer matrix's
            // input is the same whether the update is merged or added at run time, which costs no f32 copies.
            let merge = try adapter.merge(config: model.config)
            let runtime = try merge?.runtimeAdapter(config: model.config, qkvLayout: model.network.weights.qkvLayout)
            if let merge { Console.note(LoRAMergeOptions.describe(merge, verb: "applying") + " at run time") }
            let crc = try DollyModel.configCRC32(modelPath: path.model)
            let bar = ProgressBar(label: "imatrix", unit: "chunks", scale: 1)
            var measured: ImportanceMatrix?
            try OutputFile.interruptible({
                measured = try model.importanceMatrix(
                    text: calibration, calibrationName: URL(fileURLWithPath: text).lastPathComponent, context: context,
                    maxChunks: chunks, covarianceBand: diagonal ? nil : band, adapter: runtime, threads: threads.count,
                    configCRC32: crc, progress: { bar.update(done: $0, total: $1) },
                    isCancelled: { Interrupt.requested })
                bar.finish()
                measured!.identity.lora = merge?.calibrationIdentity  // convert refuses it with another adapter or none
                try measured!.write(to: output, inputs: inputs, force: force, isCancelled: { Interrupt.requested })
            }, cleanup: { bar.finish() })
            guard let matrix = measured else { return }
            let covariance = matrix.covariance.map { String(format: ", input covariances in %d-column bands (%.1f MB)", $0.band, Double($0.floatCount) * 4 / 1e6) } ?? ""
            Console.note("wrote \(output): \(matrix.columns.count) matrices, \(matrix.calibration.chunks) chunks of "
                         + "\(matrix.calibration.context) tokens (\(matrix.calibration.tokens) tokens)\(covariance)")
        }
    }
}
