/// Turns ids into text one at a time while a model generates them. Tokens can end in the
/// middle of a UTF-8 character (emoji, CJK), so bytes of an unfinished character are held
/// back until the rest arrives; the pieces returned always concatenate to `decode(allIds)`.
public struct StreamingDecoder {
    private let tokenizer: Tokenizer
    private let skipSpecialTokens: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: Tokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Text completed by `id`; empty while a character is still unfinished.
    public mutating func append(_ id: Int32) -> String {
        if skipSpecialTokens && tokenizer.isSpecial(id) { return "" }
        pending.append(contentsOf: tokenizer.tokenBytes(id))
        let hold = UTF8Boundary.incompleteSuffixLength(pending)
        if hold == pending.count { return "" }
        let ready = String(decoding: pending[..<(pending.count - hold)], as: UTF8.self)
        pending.removeFirst(pending.count - hold)
        return ready
    }

    /// Whatever is held back, with an unfinished character shown as U+FFFD.
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }
}
