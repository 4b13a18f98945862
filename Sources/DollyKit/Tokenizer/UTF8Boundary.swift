/// Where UTF-8 text can be cut without splitting a character.
enum UTF8Boundary {
    /// Length of the trailing bytes of `bytes` that start a well-formed character but do not
    /// finish it — the part a streaming decoder must hold back. Anything else (complete
    /// characters, or bytes that can never become valid) is safe to decode now, because a lead
    /// byte always starts a fresh sequence for the decoder.
    static func incompleteSuffixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        // A character is at most 4 bytes, so an unfinished one starts within the last 3.
        var back = 1
        while back <= min(3, n) {
            let lead = bytes[n - back]
            if lead & 0xC0 == 0x80 { back += 1; continue }  // continuation byte: keep looking for the lead
            let needed: Int
            switch lead {
            case 0xC2...0xDF: needed = 2
            case 0xE0...0xEF: needed = 3
            case 0xF0...0xF4: needed = 4
            default: return 0  // ASCII or a byte that is never a lead
            }
            guard back < needed else { return 0 }  // the character is complete
            // Check the continuation bytes really belong (including the first one's narrower ranges).
            for k in 1..<back {
                let c = bytes[n - back + k]
                let (lo, hi): (UInt8, UInt8) = k == 1 ? secondByteRange(lead) : (0x80, 0xBF)
                if c < lo || c > hi { return 0 }
            }
            return back
        }
        return 0
    }

    /// Allowed range of the byte after `lead` (excludes overlongs, surrogates, > U+10FFFF).
    private static func secondByteRange(_ lead: UInt8) -> (UInt8, UInt8) {
        switch lead {
        case 0xE0: return (0xA0, 0xBF)
        case 0xED: return (0x80, 0x9F)
        case 0xF0: return (0x90, 0xBF)
        case 0xF4: return (0x80, 0x8F)
        default: return (0x80, 0xBF)
        }
    }
}
