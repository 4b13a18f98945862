import DollyKit
import Foundation

/// `dolly inspect FILE.dolly-lora`: what a user needs to know before applying an adapter: the base it
/// fits, its ranks and scales, which matrices of which layers it changes, how A and B are stored, and
/// where it came from. The file is fully checked first (as loading it for a model would), so a bad one
/// is one clear error.
enum InspectAdapter {
    static func report(path: String, verify: Bool) throws -> String {
        let adapter = try LoRAAdapter(checking: path)
        let f = adapter.contents, m = f.metadata, b = m.base
        var out = InspectCommand.container(path, format: m.format, createdBy: m.createdBy, header: f.header)
        out += "source: \(m.identity)\n"
        out += "base: hidden \(b.hiddenSize), layers \(b.numHiddenLayers), heads \(b.numAttentionHeads), intermediate \(b.intermediateSize)"
        out += " (query_key_value rows in the .dolly order)\n"
        let ranks = Set(m.pairs.map(\.rank)).sorted(), scales = Set(m.pairs.map(\.scale)).sorted()
        out += "lora: rank \(ranks.count == 1 ? "\(ranks[0])" : "\(ranks.first!)-\(ranks.last!) (largest \(m.rank))")"
        out += ", alpha " + (m.alpha.map { "\($0)" } ?? "not recorded")
        out += ", scale " + (scales.count == 1 ? "\(scales[0])" : "\(scales.first!)-\(scales.last!) per matrix")
        out += m.rslora == true ? " (rsLoRA: alpha / sqrt(r))" : ""
        out += "\n"
        out += "targets: \(m.targets.joined(separator: ", "))\n"
        out += "matrices: \(m.pairs.count) adapted of \(4 * b.numHiddenLayers)\n"
        for name in ["attention.qkv", "attention.out", "mlp.up", "mlp.down"] {
            let layers = m.pairs.filter { $0.matrix == name }.map(\.layer).sorted()
            out += "  \(name.padding(toLength: 13, withPad: " ", startingAt: 0))  layers \(layers.isEmpty ? "none" : ranges(layers))\n"
        }
        var types: [String: Int] = [:]
        for t in m.tensors { types[t.type.rawValue, default: 0] += 1 }
        let kinds = types.sorted { $0.key < $1.key }.map { types.count == 1 ? $0.key : "\($0.key) (\($0.value) tensors)" }
        out += String(format: "storage: %@, A and B %.2f MB (%d bytes)\n", kinds.joined(separator: ", "), Double(adapter.bytes) / 1e6, adapter.bytes)
        out += "tensors: \(m.tensors.count)\n"
        let width = m.tensors.map(\.name.count).max() ?? 10
        for t in m.tensors {
            let shape = "[" + t.shape.map(String.init).joined(separator: ", ") + "]"
            out += "  \(t.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(t.type.rawValue.padding(toLength: 4, withPad: " ", startingAt: 0))  "
            out += "\(shape.padding(toLength: 14, withPad: " ", startingAt: 0))  \(t.bytes) B  crc32 \(t.crc32)\n"
        }
        // Loading checked every checksum already; --verify says so, as for a .dolly file.
        if verify { out += "verify: all \(m.tensors.count) tensor checksums match\n" }
        return out
    }

    /// Sorted layer numbers as ranges: 0-5, 7, 9-31.
    static func ranges(_ v: [Int]) -> String {
        var parts: [String] = [], i = 0
        while i < v.count {
            var j = i
            while j + 1 < v.count, v[j + 1] == v[j] + 1 { j += 1 }
            parts.append(i == j ? "\(v[i])" : "\(v[i])-\(v[j])")
            i = j + 1
        }
        return parts.joined(separator: ", ")
    }
}
