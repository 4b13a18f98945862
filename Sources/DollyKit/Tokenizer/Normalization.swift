import Foundation

/// Unicode NFC on UTF-8 bytes, as the tokenizer's normalizer step.
enum Normalization {
    /// Text whose scalars are all below U+0300 is already NFC: nothing there decomposes or
    /// combines. Their UTF-8 never has a byte ≥ 0xCC, which makes the check a byte scan.
    static func nfc(_ bytes: [UInt8]) -> [UInt8] {
        if !bytes.contains(where: { $0 >= 0xCC }) { return bytes }
        let string = String(decoding: bytes, as: UTF8.self)
        return Array(string.precomposedStringWithCanonicalMapping.utf8)
    }
}
