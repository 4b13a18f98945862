import DollyKit
import Foundation

/// `dolly bench --tokenizer FILE...`: times `Tokenizer.encode` alone on whole files, for comparison with
/// Hugging Face `tokenizers` on the same files (tools/bench/bench_tokenizer.py runs both).
enum TokenizerBench {
    struct Result {
        var file: String
        var bytes: Int
        var tokens: Int
        /// Seconds per repetition, each with a freshly loaded tokenizer (an empty word cache, as a new process has).
        var seconds: [Double]
    }

    static func run(modelPath: String, files: [String], repetitions: Int) throws -> [Result] {
        try files.map { file in
            let text = try TextFile.read(file, what: "--tokenizer")
            var result = Result(file: file, bytes: text.utf8.count, tokens: 0, seconds: [])
            for _ in 0..<repetitions {
                let tokenizer = try Tokenizer.load(modelPath: modelPath)  // not timed
                let start = DispatchTime.now().uptimeNanoseconds
                let ids = tokenizer.encode(text)
                result.seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                result.tokens = ids.count
            }
            return result
        }
    }

    static func json(_ results: [Result]) throws -> String {
        let objects: [[String: Any]] = results.map {
            ["file": $0.file, "bytes": $0.bytes, "tokens": $0.tokens, "samples_s": $0.seconds]
        }
        let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static func markdown(_ results: [Result]) -> String {
        var out = "| file | bytes | tokens | median s | MB/s |\n| --- | ---: | ---: | ---: | ---: |\n"
        for r in results {
            let median = r.seconds.sorted()[r.seconds.count / 2]
            out += String(format: "| %@ | %d | %d | %.4f | %.2f |\n", (r.file as NSString).lastPathComponent, r.bytes, r.tokens,
                          median, Double(r.bytes) / max(median, 1e-9) / 1e6)
        }
        return out
    }
}
