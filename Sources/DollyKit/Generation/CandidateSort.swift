/// Sorts the sampler's candidates by descending logit, ties in their incoming order (the sampler
/// appends them by ascending id: the order the comparator `a.logit > b.logit || (== && a.id < b.id)`
/// gives). A stable LSD radix sort on the logit's bits: at temperature 1 a small model's top-p keeps
/// most of the vocabulary, and a comparison sort of 50k pairs cost more per token than the demo
/// model's forward pass. Scratch space is kept between calls.
struct CandidateSorter {
    typealias Candidate = (logit: Float, id: Int32)
    private var keys: [UInt32] = []
    private var keyScratch: [UInt32] = []
    private var scratch: [Candidate] = []
    private var counts = [Int](repeating: 0, count: 1 << digitBits)

    private static let digitBits = 11
    /// Below this a comparison sort is cheaper than three counting passes.
    private static let radixThreshold = 256

    /// A key whose ascending order is the logit's descending order. -0 and +0 get the same key
    /// (the comparator finds them equal); NaN never reaches here (the sampler drops it).
    static func key(_ logit: Float) -> UInt32 {
        let bits = (logit + 0).bitPattern  // -0 + 0 == +0
        let ascending = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
        return ~ascending
    }

    mutating func sortDescending(_ candidates: inout [Candidate]) {
        let n = candidates.count
        guard n >= Self.radixThreshold else {
            candidates.sort { $0.logit > $1.logit || ($0.logit == $1.logit && $0.id < $1.id) }
            return
        }
        if keys.count < n {
            keys = [UInt32](repeating: 0, count: n)
            keyScratch = keys
            scratch = [Candidate](repeating: (0, 0), count: n)
        }
        candidates.withUnsafeMutableBufferPointer { c in
        keys.withUnsafeMutableBufferPointer { k in
        keyScratch.withUnsafeMutableBufferPointer { k2 in
        scratch.withUnsafeMutableBufferPointer { c2 in
        counts.withUnsafeMutableBufferPointer { count in
            for i in 0..<n { k[i] = Self.key(c[i].logit) }
            var (srcKeys, dstKeys) = (k.baseAddress!, k2.baseAddress!)
            var (src, dst) = (c.baseAddress!, c2.baseAddress!)
            let mask = UInt32(1 << Self.digitBits - 1)
            for shift in stride(from: 0, to: 32, by: Self.digitBits) {
                for d in 0..<count.count { count[d] = 0 }
                for i in 0..<n { count[Int(srcKeys[i] >> UInt32(shift) & mask)] += 1 }
                // A digit every key shares moves nothing: skip the pass (logits in a narrow range
                // share their top bits).
                if count[Int(srcKeys[0] >> UInt32(shift) & mask)] == n { continue }
                var total = 0
                for d in 0..<count.count {
                    let c = count[d]
                    count[d] = total
                    total += c
                }
                for i in 0..<n {
                    let d = Int(srcKeys[i] >> UInt32(shift) & mask)
                    let to = count[d]
                    count[d] = to + 1
                    dstKeys[to] = srcKeys[i]
                    dst[to] = src[i]
                }
                swap(&srcKeys, &dstKeys)
                swap(&src, &dst)
            }
            if src != c.baseAddress! { c.baseAddress!.update(from: src, count: n) }
        } } } } }
    }
}
