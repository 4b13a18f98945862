import Foundation

/// A one-line progress bar on stderr: percentage, throughput and time left. Redraws at most ten
/// times a second on a terminal; when stderr is a file or pipe, prints a line every 10%.
final class ProgressBar {
    private let label: String
    private let unit: String
    private let scale: Double
    private let start = DispatchTime.now().uptimeNanoseconds
    private var lastDraw: UInt64 = 0
    private var lastDecile = -1
    private let interactive = isatty(2) != 0

    /// `scale` converts counts to the displayed unit (e.g. 1e-6 for MB).
    init(label: String, unit: String = "MB", scale: Double = 1e-6) {
        self.label = label
        self.unit = unit
        self.scale = scale
    }

    func update(done: Int, total: Int, note: String = "") {
        let now = DispatchTime.now().uptimeNanoseconds
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
        let elapsed = Double(now - start) / 1e9
        let rate = elapsed > 0 ? Double(done) * scale / elapsed : 0
        let eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
        let decile = Int(fraction * 10)
        if interactive {
            guard now - lastDraw > 100_000_000 || done >= total else { return }
            lastDraw = now
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            emit(String(format: "\r%@ [%@] %5.1f%% %7.1f %@/s ETA %@ %@\u{1B}[K", label, bar, fraction * 100, rate, unit,
                        Self.clock(eta), note))
        } else if decile != lastDecile {
            lastDecile = decile
            emit(String(format: "%@ %5.1f%% %7.1f %@/s ETA %@ %@\n", label, fraction * 100, rate, unit, Self.clock(eta), note))
        }
    }

    /// Ends the bar's line.
    func finish() {
        if interactive { emit("\n") }
    }

    private func emit(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%02d:%02d", s / 60, s % 60)
    }
}
