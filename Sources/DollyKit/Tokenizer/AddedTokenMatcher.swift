/// A piece of input after added tokens are split out: either an added token or text left for BPE.
enum AddedTokenSegment: Equatable {
    case token(Int32)
    case text(Range<Int>)
}

/// Finds added tokens in text the way `tokenizers`' AddedVocabulary does: leftmost-longest,
/// non-overlapping matches, then the single_word / lstrip / rstrip adjustments.
struct AddedTokenMatcher: Sendable {
    struct Pattern: Sendable {
        var bytes: [UInt8]
        var id: Int32
        var lstrip: Bool
        var rstrip: Bool
        var singleWord: Bool
    }

    private let patterns: [Pattern]
    /// Pattern indices by first byte, longest first, so the first hit at a position is the longest.
    private let byFirstByte: [[Int]]

    var isEmpty: Bool { patterns.isEmpty }

    init(_ patterns: [Pattern]) {
        self.patterns = patterns
        var buckets = [[Int]](repeating: [], count: 256)
        for (i, p) in patterns.enumerated() where !p.bytes.isEmpty { buckets[Int(p.bytes[0])].append(i) }
        for b in 0..<256 { buckets[b].sort { patterns[$0].bytes.count > patterns[$1].bytes.count } }
        byFirstByte = buckets
    }

    func split(_ text: [UInt8]) -> [AddedTokenSegment] {
        if patterns.isEmpty || text.isEmpty { return [.text(0..<text.count)] }
        var segments: [AddedTokenSegment] = []
        var consumed = 0  // end of the last emitted piece
        var pos = 0
        let n = text.count
        while pos < n {
            guard let (index, end) = longestMatch(in: text, at: pos) else { pos += 1; continue }
            let p = patterns[index]
            var start = pos
            var stop = end
            pos = end
            if p.singleWord {
                // Only whole words count: no letter or digit may touch the match.
                let before = start > 0 ? Self.scalar(endingAt: start, in: text) : nil
                let after = stop < n ? Self.scalar(startingAt: stop, in: text) : nil
                if let s = before, Self.isAlphanumeric(s) { continue }
                if let s = after, Self.isAlphanumeric(s) { continue }
            }
            if p.lstrip {
                // Swallow whitespace on the left, but never text an earlier piece already took.
                while start > consumed, let s = Self.scalar(endingAt: start, in: text), s.properties.isWhitespace {
                    start -= s.utf8.count
                }
            }
            if p.rstrip {
                while stop < n, let s = Self.scalar(startingAt: stop, in: text), s.properties.isWhitespace {
                    stop += s.utf8.count
                }
                pos = stop
            }
            if consumed < start { segments.append(.text(consumed..<start)) }
            segments.append(.token(p.id))
            consumed = stop
        }
        if consumed < n { segments.append(.text(consumed..<n)) }
        return segments
    }

    @inline(__always)
    private func longestMatch(in text: [UInt8], at pos: Int) -> (Int, Int)? {
        let candidates = byFirstByte[Int(text[pos])]
        if candidates.isEmpty { return nil }
        let remaining = text.count - pos
        for index in candidates {
            let bytes = patterns[index].bytes
            if bytes.count > remaining { continue }
            var k = 1
            while k < bytes.count && text[pos + k] == bytes[k] { k += 1 }
            if k == bytes.count { return (index, pos + k) }
        }
        return nil
    }

    private static func scalar(startingAt i: Int, in text: [UInt8]) -> Unicode.Scalar? {
        var j = i + 1
        while j < text.count && text[j] & 0xC0 == 0x80 { j += 1 }
        return String(decoding: text[i..<j], as: UTF8.self).unicodeScalars.first
    }

    private static func scalar(endingAt i: Int, in text: [UInt8]) -> Unicode.Scalar? {
        var j = i - 1
        while j > 0 && text[j] & 0xC0 == 0x80 { j -= 1 }
        return String(decoding: text[j..<i], as: UTF8.self).unicodeScalars.first
    }

    /// Rust's `char::is_alphanumeric`, which tokenizers uses for single_word.
    private static func isAlphanumeric(_ s: Unicode.Scalar) -> Bool {
        let p = s.properties
        if p.isAlphabetic { return true }
        switch p.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }
}
