#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Which logical CPUs the process may use and the physical core each belongs to (Linux: /proc).
struct CPUTopology {
    /// Logical CPU number -> "package/core".
    var coreOfCPU: [Int: String] = [:]
    /// Logical CPUs the process may run on; nil when unknown (then all).
    var allowed: Set<Int>?
    var logicalCount: Int

    static func read() -> CPUTopology {
        var t = CPUTopology(logicalCount: ProcessInfo.processInfo.activeProcessorCount)
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) {
            t.allowed = parseList(line.dropFirst("Cpus_allowed_list:".count))
        }
        if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) {
            t.coreOfCPU = parseCores(info)
        }
        return t
    }

    /// Distinct physical cores among the allowed CPUs; without core ids, the allowed CPUs.
    var usableCores: Int {
        let cpus = allowed ?? Set(coreOfCPU.keys)
        let cores = Set(cpus.compactMap { coreOfCPU[$0] })
        let usable = cores.isEmpty ? (allowed?.count ?? logicalCount) : cores.count
        return max(1, min(usable, allowed?.count ?? logicalCount))
    }

    /// "0-3,8,10-11" -> {0, 1, 2, 3, 8, 10, 11}; nil when malformed.
    static func parseList<S: StringProtocol>(_ text: S) -> Set<Int>? {
        var out = Set<Int>()
        for part in text.split(separator: ",") {
            let bounds = part.trimmingBlanks.split(separator: "-").map { Int($0) }
            guard let lo = bounds.first ?? nil, bounds.count <= 2, let hi = bounds.last ?? nil, lo <= hi, hi - lo < 1 << 16 else {
                return nil
            }
            out.formUnion(lo...hi)
        }
        return out.isEmpty ? nil : out
    }

    /// /proc/cpuinfo's blocks: `processor`, `physical id` and `core id` of each logical CPU.
    static func parseCores(_ info: String) -> [Int: String] {
        var out: [Int: String] = [:]
        for block in info.components(separatedBy: "\n\n") {
            var processor: Int?, package = "0", core: String?
            for line in block.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingBlanks }
                guard parts.count == 2 else { continue }
                switch parts[0] {
                case "processor": processor = Int(parts[1])
                case "physical id": package = parts[1]
                case "core id": core = parts[1]
                default: break
                }
            }
            if let processor, let core { out[processor] = "\(package)/\(core)" }
        }
        return out
    }
}
