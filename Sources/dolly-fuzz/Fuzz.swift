// libFuzzer harness for every reader of untrusted bytes. Built with
//   swift build --product dolly-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING --scratch-path .build-fuzz
// and run as DOLLY_FUZZ_TARGET=<target> .build-fuzz/debug/dolly-fuzz CORPUS_DIR (tools/ci/fuzz.sh).
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
    case imatrix           // dolly imatrix's file, its covariance bands factored as the converter does
    case gbnf              // a GBNF grammar: parsed, compiled, and its masks walked for a few steps
    case jsonSchema = "json-schema"  // a JSON schema compiled to a grammar, then as gbnf

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

/// A .dolly header and metadata carry CRC-32s, so nearly every mutation would stop at the first
/// check. Recompute them and file_length (as a writer would) so mutations reach the metadata and
/// tensor-directory validation; inputs whose byte 15 (reserved flags) is 0xFF are left as they are,
/// so the checksum errors stay exercised too.
func withValidChecksums(_ input: UnsafeRawBufferPointer) -> [UInt8] {
    var b = [UInt8](input)
    guard b.count >= 64, b[15] != 0xFF else { return b }
    func u64(_ at: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) } }
    func put(_ v: UInt64, at: Int, bytes: Int) { for i in 0..<bytes { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
    let offset = u64(16), length = u64(24), count = UInt64(b.count)
    if offset <= count, length <= count - offset {
        let crc = b.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<Int(offset + length)])) }
        put(UInt64(crc), at: 48, bytes: 4)
    }
    put(count, at: 56, bytes: 8)
    let headerCRC = b.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<52])) }
    put(UInt64(headerCRC), at: 52, bytes: 4)
    return b
}

/// An importance matrix file ends in the CRC-32 of everything before it: recompute it so mutations reach
/// the header and the values; inputs whose byte 8 is 0xFF are left as they are (the CRC error stays exercised).
func withValidTrailingCRC(_ input: UnsafeRawBufferPointer) -> [UInt8] {
    var b = [UInt8](input)
    guard b.count >= 16, b[8] != 0xFF else { return b }
    let crc = b.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<b.count - 4])) }
    for i in 0..<4 { b[b.count - 4 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
    return b
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
        let fixed = withValidChecksums(bytes)
        fixed.withUnsafeBytes { bytes in withScratchFile(bytes) { path in
            if let f = try? DollyFile(path: path) {
                readAll(f)
                try? f.verify()
                _ = try? ModelWeights(file: f)
            }
        } }
    case .imatrix:
        let fixed = withValidTrailingCRC(bytes)
        fixed.withUnsafeBytes { bytes in withScratchFile(bytes) { path in
            if let m = try? ImportanceMatrix(contentsOf: path), let c = m.covariance {
                for t in c.tensors { _ = try? c.factor(of: t.name) }
            }
        } }
    case .gbnf:
        if let g = try? CompiledGrammar(gbnf: String(decoding: bytes, as: UTF8.self)) { walkGrammar(g) }
    case .jsonSchema:
        if let g = try? JSONSchemaGrammar.compile(schema: String(decoding: bytes, as: UTF8.self)) { walkGrammar(g) }
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

/// A vocabulary of every single byte and a few longer pieces, for walking grammars.
let fuzzVocabulary = TokenVocabulary(tokenBytes: (0..<256).map { [UInt8($0)] }
    + ["{\"", "\":", "\",\"", "true", "null", " \"", "é", "\u{1F600}", "ab"].map { Array($0.utf8) })

/// Binds a compiled grammar to the vocabulary and follows its masks for a few steps (the lowest
/// allowed id each time): the recognizer, the DFA and the trie walk on whatever the fuzzer built.
func walkGrammar(_ g: CompiledGrammar) {
    guard let c = try? GrammarConstraint(grammar: g, vocabulary: fuzzVocabulary) else { return }
    var cursor = c.start()
    var mask = [UInt64](repeating: 0, count: fuzzVocabulary.maskWords)
    for step in 0..<16 {
        guard mask.withUnsafeMutableBufferPointer({ cursor.mask(into: $0) }) else { return }
        let w = mask.firstIndex { $0 != 0 }!
        let candidates = (0..<64).filter { mask[w] >> UInt64($0) & 1 == 1 }
        cursor.advance(token: Int32(w * 64 + candidates[step % candidates.count]))
        _ = cursor.isComplete
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
