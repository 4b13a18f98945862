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

    /// The Unicode version of Oniguruma's tables in `tokenizers` 0.23. Swift's stdlib knows newer
    /// characters; to Oniguruma they are unassigned, hence neither letters nor numbers.
    private static let regexUnicodeVersion = (major: 16, minor: 0)

    /// Oniguruma (used by `tokenizers`) gives `\s` the Unicode White_Space set and `\p{L}`/`\p{N}`
    /// the general categories L*/N*. Checked against tokenizers for every code point: identical
    /// once characters newer than `regexUnicodeVersion` are treated as unassigned.
    private static func classifyUnicode(_ scalar: Unicode.Scalar) -> ScalarClass {
        let p = scalar.properties
        if p.isWhitespace { return .space }
        let cls: ScalarClass
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            cls = .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            cls = .number
        default:
            return .other
        }
        if let age = p.age, (age.major, age.minor) > regexUnicodeVersion { return .other }
        return cls
    }
}
