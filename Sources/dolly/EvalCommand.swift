import ArgumentParser
import DollyKit
import Foundation

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Zero-shot multiple-choice accuracy on one of Dolly's model-card tasks (lm-evaluation-harness scoring).")

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "One of: \(EvalTask.allCases.map(\.rawValue).joined(separator: ", ")).")
    var task: EvalTask

    @Option(name: .long, help: "Score only the first N items.")
    var limit: Int?

    @Option(name: .long, help: ArgumentHelp(
        "Folder with <task>.jsonl (default: $DOLLY_EVAL_DATA). The repository's Tests/Fixtures/eval holds 200-item slices; tools/fixtures/export_eval_sets.py writes whole sets.",
        valueName: "DIR"))
    var data: String?

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    struct NoDataError: LocalizedError {
        var errorDescription: String? {
            "no evaluation data: give --data DIR (the repository's Tests/Fixtures/eval, or a folder written by tools/fixtures/export_eval_sets.py) or set DOLLY_EVAL_DATA"
        }
    }

    func dataFile() throws -> String {
        guard let folder = data ?? ProcessInfo.processInfo.environment["DOLLY_EVAL_DATA"] else { throw NoDataError() }
        let path = URL(fileURLWithPath: folder).appendingPathComponent("\(task.rawValue).jsonl").path
        guard FileManager.default.fileExists(atPath: path) else { throw ModelError.missingFile(path) }
        return path
    }

    func run() throws {
        try Console.guarded {
            let items = try EvalItem.load(path: try dataFile(), limit: limit)
            let (model, session) = try modelOptions.load()
            let bar = ProgressBar(label: task.rawValue, unit: "items", scale: 1)
            var correct = 0, correctNorm = 0
            for (i, item) in items.enumerated() {
                let s = try model.score(item, session: session)
                if s.prediction == s.label { correct += 1 }
                if s.normalizedPrediction == s.label { correctNorm += 1 }
                bar.update(done: i + 1, total: items.count,
                           note: String(format: "acc %.4f", Double(correct) / Double(i + 1)))
            }
            bar.finish()
            let n = Double(items.count)
            var line = String(format: "%@: acc %.4f", task.rawValue, Double(correct) / n)
            if task.reportsNormalized { line += String(format: " acc_norm %.4f", Double(correctNorm) / n) }
            Console.write(line + " (\(items.count) items)\n")
        }
    }
}
