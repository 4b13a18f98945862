// libFuzzer harness for every reader of untrusted bytes. Built with
//   swift build --product dolly-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING --scratch-path .build-fuzz
// and run as DOLLY_FUZZ_TARGET=<target> .build-fuzz/debug/dolly-fuzz CORPUS_DIR (tools/fuzz.sh).
// Without FUZZING it is a replay driver: `dolly-fuzz FILE...` runs the target once per file,
// which is how a crash found by the fuzzer becomes a regression test.
import DollyKit
import Foundation

/// The reader a run exercises.
enum FuzzTarget: String, CaseIterable {
    case pickle            // torch.save's pickle (data.pkl)
    case zip = "bin"       // a whole pytorch_model.bin (zip + pickle + tensor views)
    case safetensors
    case config            // config.json
    case tokenizerJSON = "tokenizer-json"
    case dollyFile = "dolly-file"
    case tokenize          // encode/decode of arbitrary text and ids

    static let current: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["DOLLY_FUZZ_TARGET"] ?? "pickle"
        guard let t = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("unknown DOLLY_FUZZ_TARGET \(name); one of \(allCases.map(\.rawValue))\n".utf8))
            exit(2)
        }
        return t
    }()
}

/// The real tokenizer, for the tokenize target.
let fuzzTokenizer: Tokenizer? = {
    guard let path = ProcessInfo.processInfo.environment["DOLLY_FUZZ_TOKENIZER"] else { return nil }
    return try? Tokenizer(contentsOf: URL(fileURLWithPath: path))
}()

/// Readers that take a path get the input through a file in memory-backed /dev/shm.
let scratchPath = "/dev/shm/dolly-fuzz-\(getpid())"

func withScratchFile(_ bytes: UnsafeRawBufferPointer, _ body: (String) -> Void) {
    _ = FileManager.default.createFile(atPath: scratchPath, contents: Data(bytes))
    body(scratchPath)
}

/// Opens the source and reads every tensor it lists, as the converter would.
func readAll(_ source: TensorSource) {
    for name in source.tensorNames {
        if let t = try? source.tensor(named: name) { _ = t.data.reduce(0, { $0 &+ UInt64($1) }) }
    }
}

func runOne(_ bytes: UnsafeRawBufferPointer) {
    switch FuzzTarget.current {
    case .pickle:
        _ = try? TorchPickle.stateDict(bytes, file: "fuzz")
    case .zip:
        withScratchFile(bytes) { path in
            if let c = try? TorchCheckpoint(path: path) {
                readAll(c)
                try? c.verifyChecksums()
            }
        }
    case .safetensors:
        withScratchFile(bytes) { path in
            if let c = try? SafetensorsCheckpoint(path: path) { readAll(c) }
        }
    case .config:
        _ = try? ModelConfig.decode(Data(bytes))
    case .tokenizerJSON:
        if let t = try? Tokenizer(data: Data(bytes)) { _ = t.decode(t.encode("Hello world ### End")) }
    case .dollyFile:
        withScratchFile(bytes) { path in
            if let f = try? DollyFile(path: path) {
                readAll(f)
                try? f.verify()
                _ = try? ModelWeights(file: f)
            }
        }
    case .tokenize:
        guard let tokenizer = fuzzTokenizer else { return }
        let text = String(decoding: bytes, as: UTF8.self)
        let ids = tokenizer.encode(text)
        _ = tokenizer.decode(ids)
        // The same bytes as raw ids, including out-of-range ones, through both decoders.
        let raw = stride(from: 0, to: bytes.count - 1, by: 2).map { Int32(bytes[$0]) << 8 | Int32(bytes[$0 + 1]) }
        _ = tokenizer.decode(raw, skipSpecialTokens: true)
        var stream = StreamingDecoder(tokenizer: tokenizer)
        for id in raw { _ = stream.append(id) }
        _ = stream.flush()
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    runOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if FUZZING
// SwiftPM links executables with main aliased to <product>_main, so hand control to libFuzzer here.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("dolly_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var args = argv
    return LLVMFuzzerRunDriver(&count, &args, fuzzOneInput)
}
#else
@main
struct Replay {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            data.withUnsafeBytes { runOne($0) }
            print("ok \(path)")
        }
        try? FileManager.default.removeItem(atPath: scratchPath)
    }
}
#endif
