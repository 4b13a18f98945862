#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension DollyModel {
    /// Bytes the machine can still give us without swapping (MemAvailable), if known.
    public static var availableMemory: Int? {
        guard let info = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in info.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first
            return kb.map { $0 * 1024 }
        }
        return nil
    }

    /// A warning when the weights plus a session's KV cache exceed the memory available: the
    /// mapped weights then stream from disk on every token, which works but is orders of
    /// magnitude slower. nil when they fit (or memory is unknown).
    public func memoryWarning(kvCacheBytes: Int, available: Int? = DollyModel.availableMemory) -> String? {
        guard let available else { return nil }
        let needed = network.weights.weightBytes + kvCacheBytes
        guard needed > available else { return nil }
        func gb(_ bytes: Int) -> String { (Double(bytes) / 1e9).fixed(1) }
        return "the model needs \(gb(needed)) GB (weights \(gb(network.weights.weightBytes)) GB + KV cache \(gb(kvCacheBytes)) GB) "
            + "but only \(gb(available)) GB of memory is available; weights will be read from disk for every token (very slow)"
    }
}
