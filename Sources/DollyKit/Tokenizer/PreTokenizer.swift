/// GPT-2's split regex, written out by hand over Unicode scalars:
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// The alternatives are tried in order at each position, as the regex engine does, and
/// together they match every scalar, so the pieces cover the whole text.
struct PreTokenizer {
    /// Which alternative matched a piece: every token BPE makes of it lies inside the piece, so the
    /// kind bounds how long those tokens can be (see `TokenCountBound`).
    enum PieceKind: UInt8 {
        case contraction, letters, numbers, other, spaces
    }

    /// Calls `body` with the byte range and kind of each piece of `bytes` (valid UTF-8).
    static func split(_ bytes: [UInt8], _ body: (Range<Int>, PieceKind) -> Void) {
        if bytes.isEmpty { return }
        // Decode once: class and value of each scalar, plus its byte offset.
        var classes: [ScalarClass] = []
        var values: [UInt32] = []
        var offsets: [Int] = []
        classes.reserveCapacity(bytes.count)
        values.reserveCapacity(bytes.count)
        offsets.reserveCapacity(bytes.count + 1)
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = UInt32(bytes[i])
            var v: UInt32
            var len: Int
            if b0 < 0x80 { v = b0; len = 1 }
            else if b0 < 0xE0 { v = b0 & 0x1F; len = 2 }
            else if b0 < 0xF0 { v = b0 & 0x0F; len = 3 }
            else { v = b0 & 0x07; len = 4 }
            var k = 1
            while k < len && i + k < n { v = (v << 6) | (UInt32(bytes[i + k]) & 0x3F); k += 1 }
            offsets.append(i)
            values.append(v)
            classes.append(ScalarClass.of(v))
            i += len
        }
        offsets.append(n)

        let count = values.count
        var pos = 0
        while pos < count {
            let (end, kind) = match(at: pos, classes: classes, values: values, count: count)
            body(offsets[pos]..<offsets[end], kind)
            pos = end
        }
    }

    /// End (exclusive scalar index) and kind of the regex match starting at `pos`.
    @inline(__always)
    private static func match(at pos: Int, classes: [ScalarClass], values: [UInt32], count: Int) -> (Int, PieceKind) {
        let v = values[pos]
        // 's 't 're 've 'm 'll 'd — lowercase only, exactly as the regex.
        if v == 0x27, pos + 1 < count {
            let a = values[pos + 1]
            if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 { return (pos + 2, .contraction) }
            if pos + 2 < count {
                let b = values[pos + 2]
                if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { return (pos + 3, .contraction) }
            }
        }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional ASCII space, then a run of one class.
        var start = pos
        if v == 0x20, pos + 1 < count, classes[pos + 1] != .space { start = pos + 1 }
        let cls = classes[start]
        if cls != .space {
            var end = start + 1
            while end < count && classes[end] == cls { end += 1 }
            return (end, cls == .letter ? .letters : cls == .number ? .numbers : .other)
        }
        // `\s+(?!\S)`: a whitespace run, leaving its last scalar for the next word when one follows.
        var end = pos + 1
        while end < count && classes[end] == .space { end += 1 }
        if end == count || end - pos == 1 { return (end, .spaces) }  // at the end, or `\s+` for a single space
        return (end - 1, .spaces)
    }
}
