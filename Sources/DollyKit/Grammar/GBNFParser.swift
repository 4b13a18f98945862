/// Parses llama.cpp's GBNF (`grammars/README.md` there), this subset: rules `name ::= body`, `|`,
/// sequences, groups, string literals, character classes (ranges, `[^...]`), `.`, the repetitions
/// `? * + {m} {m,} {m,n}`, and `#` comments. As in llama.cpp a newline ends a rule unless it comes
/// after `::=` or `|`, or inside parentheses.
struct GBNFParser {
    private let text: [Unicode.Scalar]
    private var pos = 0
    private var line = 1
    private var lineStart = 0

    /// Bounds on what a grammar may ask for; a request can name any number, so they are checked here.
    static let maxRepetition = 10_000
    static let maxNesting = 200

    init(_ source: String) {
        text = Array(source.unicodeScalars)
    }

    static func parse(_ source: String) throws -> [GrammarRuleDefinition] {
        var parser = GBNFParser(source)
        return try parser.parseRules()
    }

    private var column: Int { pos - lineStart + 1 }
    private var atEnd: Bool { pos >= text.count }
    private var current: Unicode.Scalar? { atEnd ? nil : text[pos] }

    private func error(_ message: String) -> GrammarError {
        .syntax(line: line, column: column, message: message)
    }

    private mutating func advance() {
        if text[pos] == "\n" {
            line += 1
            lineStart = pos + 1
        }
        pos += 1
    }

    /// Skips blanks and comments, and newlines too when `newlines`.
    private mutating func skipSpace(newlines: Bool) {
        while let c = current {
            if c == " " || c == "\t" || c == "\r" || (newlines && c == "\n") {
                advance()
            } else if c == "#" {
                while let d = current, d != "\n" { advance() }
            } else {
                return
            }
        }
    }

    private static func isNameCharacter(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "_"
    }

    private mutating func parseName() throws -> String {
        var name = ""
        while let c = current, Self.isNameCharacter(c) {
            name.unicodeScalars.append(c)
            advance()
        }
        if name.isEmpty { throw error("expected a rule name") }
        return name
    }

    private mutating func parseRules() throws -> [GrammarRuleDefinition] {
        var rules: [GrammarRuleDefinition] = []
        skipSpace(newlines: true)
        while !atEnd {
            let (l, c) = (line, column)
            let name = try parseName()
            skipSpace(newlines: false)
            guard pos + 2 < text.count, text[pos] == ":", text[pos + 1] == ":", text[pos + 2] == "=" else {
                throw error("expected '::=' after rule name '\(name)'")
            }
            advance(); advance(); advance()
            skipSpace(newlines: true)
            let body = try parseAlternatives(nested: false, depth: 0)
            rules.append(GrammarRuleDefinition(name: name, body: body, line: l, column: c))
            guard atEnd || current == "\n" else { throw error("unexpected '\(current!)'") }
            skipSpace(newlines: true)
        }
        return rules
    }

    private mutating func parseAlternatives(nested: Bool, depth: Int) throws -> GrammarNode {
        guard depth < Self.maxNesting else { throw error("groups nested deeper than \(Self.maxNesting)") }
        var alternatives = [try parseSequence(nested: nested, depth: depth)]
        while current == "|" {
            advance()
            skipSpace(newlines: true)
            alternatives.append(try parseSequence(nested: nested, depth: depth))
        }
        return alternatives.count == 1 ? alternatives[0] : .alternatives(alternatives)
    }

    private mutating func parseSequence(nested: Bool, depth: Int) throws -> GrammarNode {
        var items: [GrammarNode] = []
        while let c = current {
            var item: GrammarNode
            if c == "\"" {
                advance()
                var chars: [GrammarNode] = []
                while true {
                    guard let d = current, d != "\n" else { throw error("unterminated string literal") }
                    if d == "\"" { advance(); break }
                    let scalar = try parseCharacter()
                    chars.append(.chars(CharacterRanges.normalized([scalar...scalar], negated: false)))
                }
                item = .sequence(chars)
            } else if c == "[" {
                item = try parseClass()
            } else if c == "." {
                advance()
                item = .chars(CharacterRanges.normalized([0...CharacterRanges.maxScalar], negated: false))
            } else if c == "(" {
                advance()
                skipSpace(newlines: true)
                item = try parseAlternatives(nested: true, depth: depth + 1)
                guard current == ")" else { throw error("expected ')'") }
                advance()
            } else if Self.isNameCharacter(c) {
                let (l, col) = (line, column)
                item = .ref(try parseName(), line: l, column: col)
            } else {
                break
            }
            skipSpace(newlines: nested)
            // Postfix repetitions apply to the item just parsed, and may stack (`x?*`) a few times.
            var stacked = 0
            while let r = current, r == "*" || r == "+" || r == "?" || r == "{" {
                stacked += 1
                guard stacked <= 4 else { throw error("more than 4 repetition operators on one item") }
                let (low, high) = try parseRepetition()
                item = .repeated(item, min: low, max: high)
                skipSpace(newlines: nested)
            }
            items.append(item)
        }
        return items.count == 1 ? items[0] : .sequence(items)
    }

    private mutating func parseRepetition() throws -> (Int, Int?) {
        let c = current!
        advance()
        switch c {
        case "*": return (0, nil)
        case "+": return (1, nil)
        case "?": return (0, 1)
        default:
            skipSpace(newlines: false)
            let low = try parseCount()
            skipSpace(newlines: false)
            var high: Int? = low
            if current == "," {
                advance()
                skipSpace(newlines: false)
                high = current == "}" ? nil : try parseCount()
                skipSpace(newlines: false)
            }
            guard current == "}" else { throw error("expected '}' to close a repetition") }
            advance()
            if let high, high < low { throw error("repetition {\(low),\(high)}: the maximum is below the minimum") }
            return (low, high)
        }
    }

    private mutating func parseCount() throws -> Int {
        var value = 0
        var digits = 0
        while let c = current, c >= "0" && c <= "9" {
            value = value * 10 + Int(c.value - 48)
            digits += 1
            if value > Self.maxRepetition { throw error("repetition count above \(Self.maxRepetition)") }
            advance()
        }
        if digits == 0 { throw error("expected a number") }
        return value
    }

    private mutating func parseClass() throws -> GrammarNode {
        advance()  // [
        var negated = false
        if current == "^" {
            negated = true
            advance()
        }
        var ranges: [ClosedRange<UInt32>] = []
        while true {
            guard let c = current, c != "\n" else { throw error("unterminated character class") }
            if c == "]" { advance(); break }
            let low = try parseCharacter()
            var high = low
            if current == "-", pos + 1 < text.count, text[pos + 1] != "]" {
                advance()
                high = try parseCharacter()
                if high < low { throw error("character range is backwards") }
            }
            ranges.append(low...high)
        }
        return .chars(CharacterRanges.normalized(ranges, negated: negated))
    }

    /// One character of a literal or class, with llama.cpp's escapes.
    private mutating func parseCharacter() throws -> UInt32 {
        let c = current!
        guard c == "\\" else {
            advance()
            return c.value
        }
        advance()
        guard let e = current else { throw error("unfinished escape") }
        advance()
        switch e {
        case "n": return 0x0A
        case "r": return 0x0D
        case "t": return 0x09
        case "\\", "\"", "[", "]", "-", "^", "/": return e.value
        case "x": return try parseHex(digits: 2)
        case "u": return try parseHex(digits: 4)
        case "U": return try parseHex(digits: 8)
        default: throw error("unknown escape '\\\(e)'")
        }
    }

    private mutating func parseHex(digits: Int) throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard let c = current, let d = UInt32(String(c), radix: 16) else {
                throw error("expected \(digits) hexadecimal digits")
            }
            value = value << 4 | d
            advance()
        }
        guard value <= CharacterRanges.maxScalar else { throw error("code point above U+10FFFF") }
        return value
    }
}
