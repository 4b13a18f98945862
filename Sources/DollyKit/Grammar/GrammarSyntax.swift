/// The parsed form of a GBNF grammar, before it is flattened for the recognizer.
indirect enum GrammarNode: Equatable {
    /// Code points in any of the ranges (already complemented for `[^...]`), sorted and merged.
    case chars([ClosedRange<UInt32>])
    /// A reference to a named rule, with where it was written (for "unknown rule" errors).
    case ref(String, line: Int, column: Int)
    case sequence([GrammarNode])
    case alternatives([GrammarNode])
    /// `x{min,max}`; max nil is unbounded (`*`, `+`, `{m,}`).
    case repeated(GrammarNode, min: Int, max: Int?)
}

struct GrammarRuleDefinition: Equatable {
    var name: String
    var body: GrammarNode
    var line: Int
    var column: Int
}

/// Code point sets as sorted, merged ranges. Surrogates are never characters in UTF-8 text, so
/// they are removed: a class that only held surrogates matches nothing.
enum CharacterRanges {
    static let maxScalar: UInt32 = 0x10FFFF

    static func normalized(_ ranges: [ClosedRange<UInt32>], negated: Bool) -> [ClosedRange<UInt32>] {
        var merged: [ClosedRange<UInt32>] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, r.lowerBound <= last.upperBound &+ 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        if negated {
            var complement: [ClosedRange<UInt32>] = []
            var next: UInt32 = 0
            for r in merged {
                if r.lowerBound > next { complement.append(next...(r.lowerBound - 1)) }
                next = r.upperBound + 1
            }
            if next <= maxScalar { complement.append(next...maxScalar) }
            merged = complement
        }
        var out: [ClosedRange<UInt32>] = []
        for r in merged {
            if r.lowerBound > maxScalar { continue }
            let r = r.lowerBound...min(r.upperBound, maxScalar)
            if r.upperBound < 0xD800 || r.lowerBound > 0xDFFF {
                out.append(r)
            } else {
                if r.lowerBound < 0xD800 { out.append(r.lowerBound...0xD7FF) }
                if r.upperBound > 0xDFFF { out.append(0xE000...r.upperBound) }
            }
        }
        return out
    }

    static func contains(_ ranges: [ClosedRange<UInt32>], _ c: UInt32) -> Bool {
        for r in ranges {
            if c < r.lowerBound { return false }
            if c <= r.upperBound { return true }
        }
        return false
    }

    static func intersects(_ ranges: [ClosedRange<UInt32>], _ lo: UInt32, _ hi: UInt32) -> Bool {
        for r in ranges {
            if hi < r.lowerBound { return false }
            if lo <= r.upperBound { return true }
        }
        return false
    }

    enum Relation { case inside, outside, partial }

    /// Whether every member of `a` is in `b` (inside), none is (outside), or some are (partial).
    static func relation(_ a: [ClosedRange<UInt32>], to b: [ClosedRange<UInt32>]) -> Relation {
        var shared: UInt64 = 0, total: UInt64 = 0
        for r in a {
            total += UInt64(r.upperBound - r.lowerBound) + 1
            for q in b where q.lowerBound <= r.upperBound && r.lowerBound <= q.upperBound {
                shared += UInt64(min(q.upperBound, r.upperBound) - max(q.lowerBound, r.lowerBound)) + 1
            }
        }
        return shared == 0 ? .outside : shared == total ? .inside : .partial
    }

    /// The scalar starting at `bytes[i]` and its length, for well-formed UTF-8 (no overlong forms,
    /// surrogates or values past U+10FFFF); nil when the bytes there are not a whole scalar.
    static func decode(_ bytes: [UInt8], at i: Int) -> (scalar: UInt32, length: Int)? {
        let lead = bytes[i]
        let length: Int, low: UInt32
        var value: UInt32
        switch lead {
        case 0x00...0x7F: return (UInt32(lead), 1)
        case 0xC2...0xDF: length = 2; value = UInt32(lead & 0x1F); low = 0x80
        case 0xE0...0xEF: length = 3; value = UInt32(lead & 0x0F); low = 0x800
        case 0xF0...0xF4: length = 4; value = UInt32(lead & 0x07); low = 0x10000
        default: return nil
        }
        guard i + length <= bytes.count else { return nil }
        for k in 1..<length {
            let b = bytes[i + k]
            guard b & 0xC0 == 0x80 else { return nil }
            value = value << 6 | UInt32(b & 0x3F)
        }
        guard value >= low, value <= maxScalar, !(0xD800...0xDFFF).contains(value) else { return nil }
        return (value, length)
    }
}
