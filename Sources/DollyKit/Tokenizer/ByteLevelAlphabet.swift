/// GPT-2's byte-level alphabet: every byte is shown as a printable Unicode scalar so that
/// vocabulary entries are readable strings. Printable Latin-1 bytes stand for themselves; the
/// remaining 68 bytes are mapped, in order, to U+0100 and up.
enum ByteLevelAlphabet {
    /// Scalar value shown for each byte.
    static let scalarForByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// Inverse of `scalarForByte`.
    static let byteForScalar: [UInt32: UInt8] = {
        var map = [UInt32: UInt8](minimumCapacity: 256)
        for (b, s) in scalarForByte.enumerated() { map[s] = UInt8(b) }
        return map
    }()

    /// Bytes a vocabulary string stands for, or nil if it contains a scalar outside the alphabet.
    static func bytes(of token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.unicodeScalars.count)
        for s in token.unicodeScalars {
            guard let b = byteForScalar[s.value] else { return nil }
            out.append(b)
        }
        return out
    }

    /// The vocabulary string for some bytes.
    static func string(of bytes: [UInt8]) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(Unicode.Scalar(scalarForByte[Int(b)])!) }
        return String(s)
    }
}
