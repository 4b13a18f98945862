import DollyKit
import Foundation

// Loads a model, answers one instruction with context as a stream, and one with a callback.
// Usage: dolly-consumer MODEL_PATH
let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: dolly-consumer MODEL_PATH\n".utf8))
    exit(2)
}
do {
    let model = try DollyModel.load(path: arguments[1])
    let request = GenerationRequest(text: "Who is quoted in this text?",
                                    context: "Three hours a day will produce as much as a man ought to write.\n\t\t-- Trollope",
                                    maxNewTokens: 32, sampling: .greedyDecoding)
    var streamed = ""
    for try await piece in model.stream(request) { streamed += piece }
    print("stream: \(streamed)")

    let session = try model.network.makeSession(contextLength: 256)
    var answer = ""
    let result = try model.generate(GenerationRequest(text: "What does the word \"river\" mean?", maxNewTokens: 48,
                                                      sampling: SamplingParameters(repetitionPenalty: 1.1, seed: 1)),
                                    session: session) { answer += $0; return true }
    print("callback: \(answer) [\(result.stopReason)]")
} catch {
    FileHandle.standardError.write(Data("dolly-consumer: \(error.localizedDescription)\n".utf8))
    exit(1)
}
