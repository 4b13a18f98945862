/// Ends a streamed text at the first occurrence of any stop text, across token boundaries. What it
/// passes on never includes a stop text or anything after it, and never a prefix of a stop text
/// that may still complete: such a tail is held back until the text either completes the stop text
/// (then it is dropped) or moves past it (then it is released). Works on UTF-8 bytes, so the match
/// is exact, not up to Unicode equivalence.
public struct StopTextFilter {
    private let stops: [[UInt8]]
    private var pending: [UInt8] = []
    public private(set) var stopped = false

    /// Empty stop texts are ignored (they would end every generation before it starts).
    public init(stopTexts: [String]) {
        stops = stopTexts.map { Array($0.utf8) }.filter { !$0.isEmpty }
    }

    public var isEmpty: Bool { stops.isEmpty }

    /// The text that is safe to show after `piece`; sets `stopped` once a stop text has appeared.
    public mutating func push(_ piece: String) -> String {
        guard !stopped else { return "" }
        guard !stops.isEmpty else { return piece }
        let searchFrom = pending.count
        pending.append(contentsOf: piece.utf8)
        // The earliest complete match; one can start in the held-back tail, so search from the
        // earliest place a match could end in the new bytes.
        let longest = stops.map(\.count).max()!
        var end = pending.count
        var lo = max(0, searchFrom - longest + 1)
        while lo < end {
            if stops.contains(where: { matches($0, at: lo) }) {
                end = lo
                stopped = true
                break
            }
            lo += 1
        }
        if stopped {
            let out = String(decoding: pending[..<end], as: UTF8.self)
            pending.removeAll()
            return out
        }
        // Hold back the longest tail that is a proper prefix of some stop text.
        var hold = 0
        for stop in stops {
            var k = min(stop.count - 1, pending.count)
            while k > hold {
                if pending[(pending.count - k)...].elementsEqual(stop[..<k]) { hold = k; break }
                k -= 1
            }
        }
        let out = String(decoding: pending[..<(pending.count - hold)], as: UTF8.self)
        pending.removeFirst(pending.count - hold)
        return out
    }

    /// Whatever is held back, once the text has ended without completing a stop text.
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return stopped ? "" : String(decoding: pending, as: UTF8.self)
    }

    private func matches(_ stop: [UInt8], at i: Int) -> Bool {
        i + stop.count <= pending.count && pending[i..<(i + stop.count)].elementsEqual(stop)
    }
}
