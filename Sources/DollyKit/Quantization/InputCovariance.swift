import CSIMD
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// GPTQ's statistic for every layer matrix: the mean over calibration tokens of x xᵀ, x the input that
/// multiplies the matrix, kept as diagonal bands of `band` columns (csimd.h, "Input covariances"). The
/// importance matrix is its diagonal; the off-diagonal terms let the converter compensate one column's
/// rounding error with the columns it correlates with. A 512-column band costs nothing against the
/// whole covariance on the yardstick model (BENCHMARKS.md, "Better bits") and keeps 12b's 20480-wide
/// `mlp.down` input at 42 MB instead of 1.7 GB.
public final class InputCovariance: @unchecked Sendable {
    public static let defaultBand = 512

    /// Columns per band (a multiple of 32).
    public let band: Int
    /// Tensor names in storage order, with their widths.
    public let tensors: [(name: String, columns: Int)]
    /// Per tensor: where its bands start, and its width.
    private let index: [String: (at: Int, columns: Int)]
    private let base: UnsafeMutablePointer<Float>
    public let floatCount: Int
    /// What keeps `base` alive: the file's mapping, or our own pages.
    private let owner: AnyObject

    /// Floats of one tensor's bands.
    static func floats(columns: Int, band: Int) -> Int { Int(csimd_band_floats(Int64(columns), Int64(band))) }

    /// Where each tensor's bands start (and its width), and the floats of all of them, in storage order.
    static func layout(_ tensors: [(name: String, columns: Int)], band: Int)
        -> (index: [String: (at: Int, columns: Int)], floats: Int) {
        var index: [String: (at: Int, columns: Int)] = [:], at = 0
        for t in tensors {
            index[t.name] = (at, t.columns)
            at += floats(columns: t.columns, band: band)
        }
        return (index, at)
    }

    /// Zeroed storage to accumulate into (pages are taken as they are written).
    convenience init(band: Int, tensors: [(name: String, columns: Int)]) throws {
        let pages = try ZeroPages(byteCount: Self.layout(tensors, band: band).floats * 4)
        self.init(band: band, tensors: tensors, base: pages.base, owner: pages)
    }

    /// Bands stored elsewhere (a mapped file), kept alive by `owner`.
    init(band: Int, tensors: [(name: String, columns: Int)], base: UnsafeRawPointer, owner: AnyObject) {
        self.band = band
        self.tensors = tensors
        (index, floatCount) = Self.layout(tensors, band: band)
        self.owner = owner
        self.base = UnsafeMutablePointer(mutating: base.bindMemory(to: Float.self, capacity: floatCount))
    }

    /// The bands of one tensor's input covariance.
    public func bands(of name: String) -> UnsafeBufferPointer<Float>? {
        guard let t = index[name] else { return nil }
        return UnsafeBufferPointer(start: base + t.at, count: Self.floats(columns: t.columns, band: band))
    }

    /// All the values, in storage order.
    public var values: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: base, count: floatCount) }

    /// Set when an accumulation could not run (no memory for its scratch): the bands are then incomplete.
    private(set) var accumulationFailed = false

    /// Adds xᵀx (bands only) of `rows` inputs of `name`, on `threads` threads.
    func accumulate(_ name: String, _ x: UnsafePointer<Float>, rows: Int, columns: Int, threads: Int) {
        guard let t = index[name], t.columns == columns else { return }
        if csimd_covariance_accumulate(x, Int64(rows), Int64(columns), Int64(band), base + t.at, Int32(threads)) != 0 {
            accumulationFailed = true
        }
    }

    /// Sums to means.
    func scale(by factor: Float) {
        for i in 0..<floatCount { base[i] *= factor }
    }

    /// GPTQ's factor of one tensor's bands (csimd_gptq_factor): what the converter's compensated fit runs on.
    public func factor(of name: String, dampFraction: Double = 0.01, threads: Int = DollyModel.defaultThreads) throws -> [Float] {
        guard let h = bands(of: name), let columns = index[name]?.columns else {
            throw ImportanceMatrixError.malformed("no input covariance for \(name)")
        }
        var u = [Float](repeating: 0, count: h.count)
        let status = u.withUnsafeMutableBufferPointer {
            csimd_gptq_factor(h.baseAddress, Int64(columns), Int64(band), dampFraction, $0.baseAddress, Int32(threads))
        }
        // A mapped file's bands are read once: drop them from our resident set (a 12b file is 2.6 GB).
        if owner is MappedFile { MappedFile.releasePages(UnsafeRawBufferPointer(h)) }
        switch status {
        case 0: return u
        case -2: throw ModelError.outOfMemory(bytes: band * band * 8, reason: "factoring the input covariance of \(name)")
        default: throw ImportanceMatrixError.malformed("the input covariance of \(name) is not positive definite")
        }
    }
}

extension InputCovariance: Equatable {
    public static func == (a: InputCovariance, b: InputCovariance) -> Bool {
        a.band == b.band && a.tensors.map(\.name) == b.tensors.map(\.name) && a.tensors.map(\.columns) == b.tensors.map(\.columns)
            && memcmp(a.base, b.base, a.floatCount * 4) == 0
    }
}
