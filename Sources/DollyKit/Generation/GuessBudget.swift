/// How many guesses a pass should carry so that they pay for themselves on this machine and model.
/// While generation is bound by memory bandwidth, a pass of a few rows costs about one row's; on a
/// small model that sits in the caches (the demo) each row costs its own compute, and guesses that are
/// mostly refused make decoding slower. So the budget measures both sides as it goes: the time of a
/// pass by its rows (and of a draft model's guess), and the rate at which guesses are kept, and picks
/// the count k that maximises expected tokens per second: (1 + a + ... + a^k) / time(k + 1 rows, k guesses).
struct GuessBudget {
    /// Seconds of a pass of r rows (index r), a running average; 0 until measured.
    private var passSeconds: [Double]
    /// Seconds a draft model takes per guess (0 for guesses that cost nothing to make).
    private var guessSeconds = 0.0
    /// Running rate at which a tested guess is kept (a guess is tested when all before it were kept).
    private var keptRate = 0.6
    /// Passes in a row without guesses: every so often one guess probes whether guessing pays again.
    private var idle = 0
    private let smoothing = 0.25
    private let probeEvery = 16

    init(maxDraft: Int) {
        passSeconds = [Double](repeating: 0, count: maxDraft + 2)
    }

    mutating func recordPass(rows: Int, seconds: Double) {
        guard rows < passSeconds.count, seconds > 0 else { return }
        passSeconds[rows] = passSeconds[rows] == 0 ? seconds : passSeconds[rows] + smoothing * (seconds - passSeconds[rows])
    }

    mutating func recordDraft(guesses: Int, seconds: Double) {
        guard guesses > 0, seconds > 0 else { return }
        let each = seconds / Double(guesses)
        guessSeconds = guessSeconds == 0 ? each : guessSeconds + smoothing * (each - guessSeconds)
    }

    /// After a pass that checked `guessed` guesses and kept the first `kept`.
    mutating func recordChecks(guessed: Int, kept: Int) {
        let tested = kept + (kept < guessed ? 1 : 0)
        guard tested > 0 else { return }
        for i in 0..<tested { keptRate += smoothing * ((i < kept ? 1 : 0) - keptRate) }
    }

    /// Guesses for the next pass, at most `limit`.
    mutating func guesses(limit: Int) -> Int {
        guard limit > 0 else { return 0 }
        // The first pass is a plain one: it times a row alone.
        let one = passSeconds[1]
        guard one > 0 else { return 0 }
        var best = 0, bestRate = 1 / one
        var expected = 1.0, term = 1.0
        for k in 1...min(limit, passSeconds.count - 2) {
            term *= keptRate
            expected += term
            let pass = estimatedPass(rows: k + 1)
            let rate = expected / (pass + Double(k) * guessSeconds)
            if rate > bestRate { best = k; bestRate = rate }
        }
        if best == 0 {
            idle += 1
            if idle >= probeEvery { idle = 0; return 1 }
        } else {
            idle = 0
        }
        return best
    }

    /// A width not timed yet is estimated between the timed widths around it; past the widest timed one,
    /// along the line from one row to it (flat while bound by bandwidth, so wider passes get tried; as
    /// steep as a row's compute on a model in the caches, so they never are). With only one row timed,
    /// two rows are taken to cost one's (tried once), anything wider is not tried yet.
    private func estimatedPass(rows: Int) -> Double {
        if passSeconds[rows] > 0 { return passSeconds[rows] }
        var below = rows - 1
        while passSeconds[below] == 0 { below -= 1 }  // passSeconds[1] is timed
        var above = rows + 1
        while above < passSeconds.count && passSeconds[above] == 0 { above += 1 }
        if above < passSeconds.count {
            let t = Double(rows - below) / Double(above - below)
            return passSeconds[below] + t * (passSeconds[above] - passSeconds[below])
        }
        guard below > 1 else { return rows == 2 ? passSeconds[1] : .infinity }
        let slope = max(0, (passSeconds[below] - passSeconds[1]) / Double(below - 1))
        return passSeconds[below] + Double(rows - below) * slope
    }
}
