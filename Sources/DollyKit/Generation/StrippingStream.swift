/// Streams text with Python's `str.strip()` applied to the whole, as Dolly's pipeline does to
/// its answer: leading whitespace is dropped, trailing whitespace is held back until more text comes.
public struct StrippingStream {
    private var started = false
    private var pending = ""

    public init() {}

    public mutating func push(_ piece: String) -> String {
        var out = ""
        for ch in piece {
            if ch.isWhitespace {
                if started { pending.append(ch) }
            } else {
                started = true
                out += pending
                pending = ""
                out.append(ch)
            }
        }
        return out
    }
}
