/// JSON Schema's `pattern` (an ECMA-262 regular expression, the common subset) as a GBNF expression
/// over the *encoded* characters of a JSON string: the text between its quotes. A character that JSON
/// must escape (`"`, `\`, control characters) is matched in its escaped form (`\"`, `\\`, `\n`, …), so
/// the grammar never produces a string that does not parse, and the decoded value matches the pattern.
///
/// Supported: literals and escapes (`\d \w \s \D \W \S`, `\t \n \r`, `\xHH`, `\uHHHH`, escaped
/// punctuation), `.`, classes with ranges and negation (`\d \w \s` inside), groups `( )` and `(?: )`,
/// alternation, `? * + {n} {n,} {n,m}` (lazy forms match the same strings). `^` and `$` only at the
/// ends of the whole pattern; without them the match may start or end anywhere in the string, as JSON
/// Schema says. Refused with an error: backreferences, lookaround, word boundaries, named groups, flags.
enum PatternGrammar {
    /// Characters JSON forbids raw inside a string.
    private static let forbidden: [ClosedRange<UInt32>] = [0x00...0x1F, 0x22...0x22, 0x5C...0x5C]
    /// The canonical escape of each forbidden character a class may still want to produce.
    private static func escapeLiteral(_ c: UInt32) -> String {
        switch c {
        case 0x22: return #""\\\"""#
        case 0x5C: return #""\\\\""#
        case 0x0A: return #""\\n""#
        case 0x09: return #""\\t""#
        case 0x0D: return #""\\r""#
        case 0x08: return #""\\b""#
        case 0x0C: return #""\\f""#
        default:
            let hex = String(c, radix: 16, uppercase: false)
            return "\"\\\\u" + String(repeating: "0", count: 4 - hex.count) + hex + "\""
        }
    }

    static func gbnf(_ pattern: String, path: String) throws -> String {
        var parser = Parser(scalars: Array(pattern.unicodeScalars), path: path)
        return try parser.whole()
    }

    struct Parser {
        let scalars: [Unicode.Scalar]
        let path: String
        var i = 0
        var depth = 0

        init(scalars: [Unicode.Scalar], path: String) {
            self.scalars = scalars
            self.path = path
        }

        private func fail(_ message: String) -> GrammarError {
            .invalidSchema(path: path, message: "pattern: \(message) at character \(i + 1)")
        }

        private var current: Unicode.Scalar? { i < scalars.count ? scalars[i] : nil }

        mutating func whole() throws -> String {
            var end = scalars.count
            let anchoredStart = scalars.first == "^"
            if anchoredStart { i = 1 }
            // A final `$` anchors unless it is escaped (an odd number of backslashes before it).
            var anchoredEnd = false
            if end > i, scalars[end - 1] == "$" {
                var slashes = 0
                while end - 2 - slashes >= i, scalars[end - 2 - slashes] == "\\" { slashes += 1 }
                if slashes % 2 == 0 { anchoredEnd = true; end -= 1 }
            }
            var body = try alternation(until: end)
            guard i == end else { throw fail("unbalanced ')'") }
            if body.isEmpty { body = "\"\"" }
            // Unanchored: anything may come before or after the match.
            let any = "char*"
            return (anchoredStart ? "" : any + " ") + "(" + body + ")" + (anchoredEnd ? "" : " " + any)
        }

        private mutating func alternation(until end: Int) throws -> String {
            var options = [try sequence(until: end)]
            while i < end, current == "|" {
                i += 1
                options.append(try sequence(until: end))
            }
            return options.map { $0.isEmpty ? "\"\"" : $0 }.joined(separator: " | ")
        }

        private mutating func sequence(until end: Int) throws -> String {
            var items: [String] = []
            while i < end, let c = current, c != "|", c != ")" {
                var atom = try self.atom()
                atom = try quantified(atom, until: end)
                items.append(atom)
            }
            return items.joined(separator: " ")
        }

        private mutating func quantified(_ atom: String, until end: Int) throws -> String {
            guard i < end, let c = current else { return atom }
            var out: String
            switch c {
            case "?": out = "(\(atom))?"; i += 1
            case "*": out = "(\(atom))*"; i += 1
            case "+": out = "(\(atom))+"; i += 1
            case "{":
                guard let (low, high, next) = repetition(from: i) else { return atom }  // a literal "{"
                i = next
                guard low <= GBNFParser.maxRepetition, (high ?? 0) <= GBNFParser.maxRepetition else {
                    throw fail("repetition count above \(GBNFParser.maxRepetition)")
                }
                if let high, high < low { throw fail("{n,m} with m below n") }
                out = "(\(atom)){\(low),\(high.map(String.init) ?? "")}"
                if let h = high, h == low { out = "(\(atom)){\(low)}" }
            default: return atom
            }
            if i < end, current == "?" { i += 1 }  // lazy: the same strings
            if i < end, let q = current, "?*+{".unicodeScalars.contains(q), q != "{" || repetition(from: i) != nil {
                throw fail("a quantifier cannot follow a quantifier")
            }
            return out
        }

        /// `{n}`, `{n,}` or `{n,m}` at `start`: the bounds and the index after it; nil when it is not one.
        private func repetition(from start: Int) -> (Int, Int?, Int)? {
            var j = start + 1
            func number() -> Int? {
                var value = 0, digits = 0
                while j < scalars.count, let d = Int(String(scalars[j])), scalars[j].isASCII {
                    value = min(value * 10 + d, Int(Int32.max)); digits += 1; j += 1
                }
                return digits > 0 ? value : nil
            }
            guard let low = number() else { return nil }
            var high: Int? = low
            if j < scalars.count, scalars[j] == "," {
                j += 1
                high = number()
            }
            guard j < scalars.count, scalars[j] == "}" else { return nil }
            return (low, high, j + 1)
        }

        private mutating func atom() throws -> String {
            let c = current!
            switch c {
            case "(":
                // Nesting is recursion here: bounded, so no pattern can exhaust the stack.
                depth += 1
                defer { depth -= 1 }
                guard depth <= 64 else { throw fail("groups nested deeper than 64") }
                i += 1
                if current == "?" {
                    guard i + 1 < scalars.count, scalars[i + 1] == ":" else {
                        throw fail("lookaround and named groups are not supported")
                    }
                    i += 2
                }
                let inner = try alternation(until: scalars.count)
                guard current == ")" else { throw fail("missing ')'") }
                i += 1
                return "(" + (inner.isEmpty ? "\"\"" : inner) + ")"
            case "[":
                i += 1
                return try characterClass()
            case ".":
                i += 1
                return PatternGrammar.emit(CharacterSet(ranges: [0x0A...0x0A, 0x0D...0x0D, 0x2028...0x2029], negated: true))
            case "\\":
                i += 1
                return try escape(inClass: false).map(PatternGrammar.emit) ?? ""
            case "^", "$":
                throw fail("'\(c)' is supported only at the ends of the pattern")
            case "*", "+", "?":
                throw fail("'\(c)' has nothing to repeat")
            case ")":
                throw fail("unbalanced ')'")
            default:
                i += 1
                return PatternGrammar.emit(CharacterSet(ranges: [c.value...c.value], negated: false))
            }
        }

        /// After a backslash: the set it stands for (nil: an escape that matches no character).
        private mutating func escape(inClass: Bool) throws -> CharacterSet? {
            guard let e = current else { throw fail("a pattern cannot end with '\\'") }
            i += 1
            func set(_ r: [ClosedRange<UInt32>], _ negated: Bool = false) -> CharacterSet {
                CharacterSet(ranges: r, negated: negated)
            }
            let digit: [ClosedRange<UInt32>] = [0x30...0x39]
            let word: [ClosedRange<UInt32>] = [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A]
            // ECMA-262's WhiteSpace and LineTerminator: the Zs separators, tab, VT, FF, BOM, LF, CR, LS, PS.
            // (U+FEFF left out: ECMA counts it, Python's re does not.)
            let space: [ClosedRange<UInt32>] = [0x09...0x0D, 0x20...0x20, 0xA0...0xA0, 0x1680...0x1680, 0x2000...0x200A,
                                                0x2028...0x2029, 0x202F...0x202F, 0x205F...0x205F, 0x3000...0x3000]
            switch e {
            case "d": return set(digit)
            case "w": return set(word)
            case "s": return set(space)
            case "S":
                // Not a space for ECMA-262 nor for Python's re (which counts U+001C-U+001F and U+0085).
                if inClass { throw fail("'\\S' inside a class is not supported") }
                return set(space + [0x1C...0x1F, 0x85...0x85, 0xFEFF...0xFEFF], true)
            case "D", "W":
                // Generated as ASCII only: engines that read \d and \w as Unicode classes (ICU,
                // Python's re) then agree with ECMA-262 that the output matches.
                if inClass { throw fail("'\\\(e)' inside a class is not supported") }
                let excluded = e == "D" ? digit : word
                return set(PatternGrammar.subtract([0x20...0x7E], excluded) + [0x09...0x0A, 0x0D...0x0D])
            case "t": return set([0x09...0x09])
            case "n": return set([0x0A...0x0A])
            case "r": return set([0x0D...0x0D])
            case "f": return set([0x0C...0x0C])
            case "v": return set([0x0B...0x0B])
            case "0": return set([0...0])
            case "x", "u":
                let digits = e == "x" ? 2 : 4
                guard i + digits <= scalars.count,
                      let v = UInt32(String(String.UnicodeScalarView(scalars[i ..< i + digits])), radix: 16) else {
                    throw fail("'\\\(e)' needs \(digits) hex digits")
                }
                i += digits
                return set([v...v])
            case "b", "B":
                if inClass && e == "b" { return set([0x08...0x08]) }
                throw fail("word boundaries are not supported")
            case "1"..."9", "k": throw fail("backreferences are not supported")
            case "p", "P": throw fail("Unicode property escapes are not supported")
            default:
                guard !e.properties.isAlphabetic && !("0"..."9").contains(e) else { throw fail("unknown escape '\\\(e)'") }
                return set([e.value...e.value])
            }
        }

        private mutating func characterClass() throws -> String {
            var negated = false
            if current == "^" { negated = true; i += 1 }
            var ranges: [ClosedRange<UInt32>] = []
            var first = true
            while true {
                guard let c = current else { throw fail("missing ']'") }
                if c == "]" && !first { i += 1; break }
                first = false
                var low: UInt32
                if c == "\\" {
                    i += 1
                    let s = try escape(inClass: true)!
                    if s.ranges.count != 1 || s.ranges[0].count != 1 {
                        ranges += s.ranges  // \d, \w, \s: not a range endpoint
                        continue
                    }
                    low = s.ranges[0].lowerBound
                } else {
                    low = c.value
                    i += 1
                }
                // A range a-b (a '-' before ']' is a literal).
                if current == "-", i + 1 < scalars.count, scalars[i + 1] != "]" {
                    i += 1
                    var high: UInt32
                    if current == "\\" {
                        i += 1
                        let s = try escape(inClass: true)!
                        guard s.ranges.count == 1, s.ranges[0].count == 1 else { throw fail("a class escape cannot end a range") }
                        high = s.ranges[0].lowerBound
                    } else {
                        high = current!.value
                        i += 1
                    }
                    guard low <= high else { throw fail("range out of order") }
                    ranges.append(low...high)
                } else {
                    ranges.append(low...low)
                }
            }
            return PatternGrammar.emit(CharacterSet(ranges: ranges, negated: negated))
        }
    }

    /// A set of code points (negated: all but these).
    struct CharacterSet {
        var ranges: [ClosedRange<UInt32>]
        var negated: Bool
    }

    /// GBNF for one character of `set`, as encoded in a JSON string.
    static func emit(_ set: CharacterSet) -> String {
        func contains(_ c: UInt32) -> Bool { set.ranges.contains { $0.contains(c) } != set.negated }
        // The characters JSON escapes that the set includes, produced in escaped form.
        var escapes: [String] = []
        for c in [0x22, 0x5C, 0x0A, 0x09, 0x0D] as [UInt32] where contains(c) { escapes.append(escapeLiteral(c)) }
        if !set.negated {
            for r in set.ranges where r.lowerBound < 0x20 {
                for c in r.lowerBound...min(r.upperBound, 0x1F) where ![0x0A, 0x09, 0x0D].contains(c) {
                    escapes.append(escapeLiteral(c))
                }
            }
        }
        var raw: String
        if set.negated {
            raw = "[^" + (set.ranges + forbidden).map(classRange).joined() + "]"
        } else {
            let allowed = subtract(set.ranges, forbidden)
            raw = allowed.isEmpty ? "" : "[" + allowed.map(classRange).joined() + "]"
        }
        let options = (raw.isEmpty ? [] : [raw]) + escapes
        guard !options.isEmpty else { return "[^\\x00-\\U0010FFFF]" }  // matches nothing
        return options.count == 1 ? options[0] : "(" + options.joined(separator: " | ") + ")"
    }

    private static func classRange(_ r: ClosedRange<UInt32>) -> String {
        r.lowerBound == r.upperBound ? escaped(r.lowerBound) : escaped(r.lowerBound) + "-" + escaped(r.upperBound)
    }

    private static func escaped(_ c: UInt32) -> String {
        let hex = String(c, radix: 16, uppercase: true)
        if c < 0x100 { return "\\x" + String(repeating: "0", count: 2 - hex.count) + hex }
        if c < 0x10000 { return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex }
        return "\\U" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    static func subtract(_ ranges: [ClosedRange<UInt32>], _ holes: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var out = ranges
        for hole in holes {
            out = out.flatMap { r -> [ClosedRange<UInt32>] in
                guard r.overlaps(hole) else { return [r] }
                var pieces: [ClosedRange<UInt32>] = []
                if r.lowerBound < hole.lowerBound { pieces.append(r.lowerBound...(hole.lowerBound - 1)) }
                if r.upperBound > hole.upperBound { pieces.append((hole.upperBound + 1)...r.upperBound) }
                return pieces
            }
        }
        return out
    }
}
