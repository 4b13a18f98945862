import ArgumentParser
import DollyKit
import Foundation

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Zero-shot multiple-choice accuracy on one of Dolly's model-card tasks (lm-evaluation-harness scoring).")

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "One of: \(EvalTask.allCases.map(\.rawValue).joined(separator: ", ")).")
    var task: String

    @Option(name: .long, help: "Score only the first N items.")
    var limit: Int?

    @Option(name: .long, help: "Folder with <task>.jsonl (default: $DOLLY_EVAL_DATA, tools/.eval-data, then Tests/Fixtures/eval).")
    var data: String?

    func validate() throws {
        guard EvalTask(rawValue: task) != nil else {
            throw ValidationError("--task must be one of \(EvalTask.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func dataFile() throws -> String {
        let folders = data.map { [$0] } ?? [ProcessInfo.processInfo.environment["DOLLY_EVAL_DATA"], "tools/.eval-data", "Tests/Fixtures/eval"].compactMap { $0 }
        for folder in folders {
            let path = URL(fileURLWithPath: folder).appendingPathComponent("\(task).jsonl").path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        throw ModelError.missingFile("\(task).jsonl in \(folders.joined(separator: ", ")) (run tools/export_eval_sets.py)")
    }

    func run() throws {
        try Console.guarded {
            let t = EvalTask(rawValue: task)!
            let items = try EvalItem.load(path: try dataFile(), limit: limit)
            let (model, session) = try modelOptions.load()
            let bar = ProgressBar(label: task, unit: "items", scale: 1)
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
            var line = String(format: "%@: acc %.4f", task, Double(correct) / n)
            if t.reportsNormalized { line += String(format: " acc_norm %.4f", Double(correctNorm) / n) }
            Console.write(line + " (\(items.count) items)\n")
        }
    }
}
