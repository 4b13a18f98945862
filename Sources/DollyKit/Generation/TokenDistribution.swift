/// A distribution over token ids, sparse: the ids a draw can pick and their probabilities (summing
/// to 1), most likely first. What a draft proposed at one step, for speculative sampling's check.
/// Reused across steps: `removeAll` keeps the capacity (no allocation per token once warm).
public struct TokenDistribution: Sendable {
    public private(set) var ids: [Int32] = []
    public private(set) var probabilities: [Double] = []

    public init() {}

    mutating func removeAll() {
        ids.removeAll(keepingCapacity: true)
        probabilities.removeAll(keepingCapacity: true)
    }

    mutating func append(_ id: Int32, _ probability: Double) {
        ids.append(id)
        probabilities.append(probability)
    }

    /// The probability of `id` (0 when a draw cannot pick it).
    public func probability(of id: Int32) -> Double {
        for i in 0..<ids.count where ids[i] == id { return probabilities[i] }
        return 0
    }

    /// The id a uniform draw `u` in [0, 1) lands on.
    func draw(_ u: Double) -> Int32 {
        var r = u
        for i in 0..<ids.count {
            r -= probabilities[i]
            if r < 0 { return ids[i] }
        }
        return ids.last ?? 0
    }
}
