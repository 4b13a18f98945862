/// A token added on top of the BPE vocabulary (special tokens, Dolly's prompt markers, ...).
public struct AddedToken: Sendable, Equatable {
    public let id: Int32
    public let content: String
    /// Special tokens are dropped by `decode(_:skipSpecialTokens: true)`.
    public let special: Bool
}
