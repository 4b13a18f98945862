/// Text split up to the point where byte-pair encoding starts: added tokens, and the normalized text
/// between them cut into pre-tokenized pieces. Kept whole before any piece is encoded so that the
/// token count can be bounded first (`TokenCountBound`).
struct EncodingPlan {
    enum Unit {
        case token(Int32)
        /// `texts[text]`, cut into `pieces[pieces]`.
        case text(Int, Range<Int>)
    }

    struct Piece {
        var start: Int
        var end: Int
        var kind: PreTokenizer.PieceKind
    }

    var units: [Unit] = []
    var texts: [[UInt8]] = []
    var pieces: [Piece] = []
    /// Added tokens among `units`.
    private(set) var tokenCount = 0

    mutating func addToken(_ id: Int32) {
        units.append(.token(id))
        tokenCount += 1
    }

    /// A normalized text and its added-token split.
    mutating func add(_ text: [UInt8], split: [AddedTokenSegment]) {
        for segment in split {
            switch segment {
            case let .token(id):
                addToken(id)
            case let .text(range):
                if range.isEmpty { continue }
                units.append(.text(texts.count, 0..<0))  // its pieces come with `preTokenize`
                texts.append(range.count == text.count ? text : Array(text[range]))
            }
        }
    }

    /// Cuts every text into pieces; afterwards a text unit's range indexes `pieces`.
    mutating func preTokenize() {
        for i in units.indices {
            guard case let .text(index, _) = units[i] else { continue }
            let first = pieces.count
            PreTokenizer.split(texts[index]) { range, kind in
                pieces.append(Piece(start: range.lowerBound, end: range.upperBound, kind: kind))
            }
            units[i] = .text(index, first..<pieces.count)
        }
    }
}
