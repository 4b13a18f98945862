#if canImport(FoundationEssentials)
// The standard library's NFC: FoundationEssentials has no precomposedStringWithCanonicalMapping.
@_spi(_Unicode) import Swift
#else
import Foundation
#endif

/// Unicode NFC on UTF-8 bytes, as the tokenizer's normalizer step.
enum Normalization {
    /// Text whose scalars are all below U+0300 is already NFC: nothing there decomposes or
    /// combines. Their UTF-8 never has a byte ≥ 0xCC, which makes the check a byte scan.
    static func nfc(_ bytes: [UInt8]) -> [UInt8] {
        if !bytes.contains(where: { $0 >= 0xCC }) { return bytes }
        let string = String(decoding: bytes, as: UTF8.self)
        #if canImport(FoundationEssentials)
        return nfcKnownScalars(string)
        #else
        return Array(string.precomposedStringWithCanonicalMapping.utf8)
        #endif
    }

    #if canImport(FoundationEssentials)
    /// The newest Unicode version whose characters are normalized. The standard library knows
    /// Unicode 17; Hugging Face `tokenizers` (the reference) and ICU before it (Foundation's NFC,
    /// ICU 74) do not know the marks assigned since 15.1 and leave them where they are, as any
    /// unassigned code point: a starter nothing combines with (TokenizerCorpusTests has two such
    /// strings). So are they here.
    static let newestVersion = (major: 15, minor: 1)

    /// NFC by the standard library, with scalars newer than `newestVersion` kept as they are:
    /// the text between them is normalized run by run (a starter that combines with nothing
    /// stops reordering and composition, so this is NFC as an older Unicode has it).
    static func nfcKnownScalars(_ string: String) -> [UInt8] {
        func isNew(_ s: Unicode.Scalar) -> Bool {
            guard let age = s.properties.age else { return false }
            return (age.major, age.minor) > newestVersion
        }
        guard string.unicodeScalars.contains(where: isNew) else { return string._nfcCodeUnits }
        var out: [UInt8] = []
        out.reserveCapacity(string.utf8.count)
        var run = String.UnicodeScalarView()
        for scalar in string.unicodeScalars {
            if isNew(scalar) {
                out += String(run)._nfcCodeUnits
                run = String.UnicodeScalarView()
                out += String(scalar).utf8
            } else {
                run.append(scalar)
            }
        }
        out += String(run)._nfcCodeUnits
        return out
    }
    #endif
}
