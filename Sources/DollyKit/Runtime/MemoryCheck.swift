import Foundation

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
        return String(format: "the model needs %.1f GB (weights %.1f GB + KV cache %.1f GB) but only %.1f GB of memory is available; "
                      + "weights will be read from disk for every token (very slow)",
                      Double(needed) / 1e9, Double(network.weights.weightBytes) / 1e9, Double(kvCacheBytes) / 1e9, Double(available) / 1e9)
    }
}
