/// How GPT-2's split regex sees a scalar: `\p{L}`, `\p{N}`, `\s`, or anything else.
enum ScalarClass: UInt8 {
    case other = 0, letter, number, space

    /// ASCII is by far the common case; a table avoids the Unicode property lookup.
    private static let ascii: [ScalarClass] = (0..<128).map { v in
        let s = Unicode.Scalar(UInt8(v))
        return classifyUnicode(s)
    }

    @inline(__always)
    static func of(_ value: UInt32) -> ScalarClass {
        if value < 128 { return ascii[Int(value)] }
        guard let scalar = Unicode.Scalar(value) else { return .other }
        return classifyUnicode(scalar)
    }

    /// Oniguruma (used by `tokenizers`) gives `\s` the Unicode White_Space set and `\p{L}`/`\p{N}`
    /// the general categories L*/N*; checked against tokenizers for every code point.
    private static func classifyUnicode(_ scalar: Unicode.Scalar) -> ScalarClass {
        let p = scalar.properties
        if p.isWhitespace { return .space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }
}
