/// A lower bound on how many tokens text becomes, cheap enough to check before byte-pair encoding,
/// so that a caller with a token budget (a model's context) can refuse text that cannot fit without
/// paying for encoding it.
///
/// Every token BPE produces lies inside one pre-tokenized piece, so a piece of n bytes becomes at
/// least ⌈n / L⌉ tokens, where L is the longest vocabulary token that could lie inside a piece of its
/// kind: GPT-NeoX's longest tokens are runs of spaces or dashes (512 bytes), its longest letter-only
/// token is far shorter, so a long word is bounded much more tightly than by the longest token alone.
/// Never an overestimate: a token whose bytes cannot be classified is counted as fitting every kind.
struct TokenCountBound: Sendable {
    /// Longest token, in bytes, that can lie inside a piece of each kind (indexed by `PieceKind`).
    private let longest: [Int]
    /// Longest token any piece can hold: the byte-length-only bound uses it.
    let longestToken: Int
    /// False when the vocabulary lacks a single-byte token: BPE then drops such bytes, and a piece
    /// may yield no token at all.
    private let sound: Bool

    init(tokenBytes: [[UInt8]], byteIds: [Int32]) {
        var longest = [Int](repeating: 1, count: 5)
        longest[Int(PreTokenizer.PieceKind.contraction.rawValue)] = 3
        for bytes in tokenBytes {
            for kind in Self.kinds(fitting: bytes) { longest[Int(kind.rawValue)] = max(longest[Int(kind.rawValue)], bytes.count) }
        }
        self.longest = longest
        longestToken = longest.max() ?? 1
        sound = !byteIds.contains(-1)
    }

    /// Fewest tokens a piece of `count` bytes and this kind can become.
    @inline(__always)
    func minimumTokens(pieceBytes count: Int, kind: PreTokenizer.PieceKind) -> Int {
        guard sound else { return 0 }
        if kind == .contraction { return 1 }
        let l = longest[Int(kind.rawValue)]
        return (count + l - 1) / l
    }

    /// Fewest tokens `count` bytes of normalized text can become, from their length alone.
    func minimumTokens(textBytes count: Int) -> Int {
        sound ? (count + longestToken - 1) / longestToken : 0
    }

    /// The piece kinds a token's bytes could lie inside. Its complete scalars must all be of the
    /// kind's class (a leading ASCII space is allowed: ` ?\p{L}+` and its siblings start with one);
    /// partial scalars at either end could belong to anything.
    static func kinds(fitting bytes: [UInt8]) -> [PreTokenizer.PieceKind] {
        var letters = true, numbers = true, other = true, spaces = true
        var i = 0
        while i < bytes.count && bytes[i] & 0xC0 == 0x80 { i += 1 }  // starts inside a scalar
        scan: while i < bytes.count {
            let b0 = bytes[i]
            let len = b0 < 0x80 ? 1 : b0 >= 0xC2 && b0 < 0xE0 ? 2 : b0 >= 0xE0 && b0 < 0xF0 ? 3 : b0 >= 0xF0 && b0 < 0xF5 ? 4 : 0
            // Not a scalar we can read (a stray byte, or one cut at the end): assume it fits.
            if len == 0 || i + len > bytes.count { break scan }
            var v = len == 1 ? UInt32(b0) : UInt32(b0) & (0xFF >> (len + 1))
            for k in 1..<len {
                let c = bytes[i + k]
                if c & 0xC0 != 0x80 { break scan }
                v = v << 6 | UInt32(c & 0x3F)
            }
            if !(i == 0 && v == 0x20) {
                switch ScalarClass.of(v) {
                case .letter: numbers = false; other = false; spaces = false
                case .number: letters = false; other = false; spaces = false
                case .other: letters = false; numbers = false; spaces = false
                case .space: letters = false; numbers = false; other = false
                }
            }
            i += len
        }
        var out: [PreTokenizer.PieceKind] = []
        if letters { out.append(.letters) }
        if numbers { out.append(.numbers) }
        if other { out.append(.other) }
        if spaces { out.append(.spaces) }
        return out
    }
}
