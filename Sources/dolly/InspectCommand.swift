import ArgumentParser
import DollyKit
import Foundation

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a .dolly file's header, hyperparameters and tensor table, or a .dolly-lora adapter's base, ranks and matrices.")

    @Argument(help: "The .dolly or .dolly-lora file.")
    var file: String

    @Flag(name: .long, help: "Check every tensor's CRC-32.")
    var verify = false

    func run() throws {
        try Console.guarded {
            if AdapterFile.hasMagic(path: file) {
                Console.write(try InspectAdapter.report(path: file, verify: verify))
                return
            }
            let f = try DollyFile(path: file)
            let m = f.metadata, c = m.model
            var out = Self.container(file, format: m.format, createdBy: m.createdBy, header: f.header)
            out += "model: \(c.modelType), hidden \(c.hiddenSize), layers \(c.numHiddenLayers), heads \(c.numAttentionHeads), "
            out += "intermediate \(c.intermediateSize), vocab \(c.vocabSize), context \(c.maxPositionEmbeddings)\n"
            out += "       rotary \(c.rotaryPct) of each head (\(c.rotaryDims) dims), base \(c.rotaryBase), "
            out += "layer_norm_eps \(c.layerNormEps), parallel residual \(c.useParallelResidual), act \(c.activation.rawValue)\n"
            let q = m.quantization
            out += "quantization: recipe \(q.recipe): matrices \(q.matrices.rawValue), embed_in \(q.embedIn.rawValue), "
            out += "embed_out \(q.embedOut.rawValue), vectors \(q.vectors.rawValue)\n"
            if q.weighting != nil || q.imatrix != nil {
                out += "block fit: " + (q.fit == "compensated" ? "error-compensated (GPTQ), " : "") + "weighting \(q.weighting ?? "uniform")"
                if let i = q.imatrix {
                    out += ", \(q.fit == "compensated" ? "input covariances" : "importance matrix") from \(i.file) "
                        + "(\(i.bytes) B, crc32 \(i.crc32)): \(i.chunks) chunks of \(i.context) tokens"
                }
                out += "\n"
            }
            for a in m.lora ?? [] {
                out += "lora: \(a.name) (\(a.file), identity \(a.identity)) merged: r \(a.r), alpha \(a.alpha)\(a.rslora == true ? " (rsLoRA)" : ""), "
                out += "scale \(a.scale), targets \(a.targets.joined(separator: ", "))" + (a.baseModel.map { ", base \($0)" } ?? "") + "\n"
            }
            out += "source: \(m.source.format): " + m.source.files.map { "\($0.name) (\($0.bytes) B)" }.joined(separator: ", ")
            out += ", config crc32 \(m.source.configCRC32)\n"
            out += String(format: "bits/weight: layer matrices %.3f, all matrices %.3f, whole file %.3f\n",
                          f.layerMatrixBitsPerWeight, f.matrixBitsPerWeight, f.fileBitsPerWeight)
            out += "tensors: \(m.tensors.count)\n"
            let width = m.tensors.map(\.name.count).max() ?? 10
            for t in m.tensors {
                let name = t.name.padding(toLength: width, withPad: " ", startingAt: 0)
                let shape = "[" + t.shape.map(String.init).joined(separator: ", ") + "]"
                out += "  \(name)  \(t.type.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0))  "
                out += "\(shape.padding(toLength: 14, withPad: " ", startingAt: 0))  "
                out += (t.type == .u8 ? "            -     " : String(format: "%5.2f bits/weight  ", t.type.bitsPerWeight)) + "\(t.bytes) B  crc32 \(t.crc32)\n"
            }
            Console.write(out)
            if verify {
                let bar = ProgressBar(label: "verify")
                let total = m.tensors.reduce(0) { $0 + $1.bytes }
                var done = 0
                try f.verify { n in
                    done += n
                    bar.update(done: done, total: total)
                }
                bar.finish()
                Console.write("verify: all \(m.tensors.count) tensor checksums match\n")
            }
        }
    }

    /// The lines every file of the `.dolly` container starts with (a model or an adapter).
    static func container(_ path: String, format: String, createdBy: String, header h: FileHeader) -> String {
        "file: \(path)\nformat: \(format) \(h.major).\(h.minor), created by \(createdBy)\n"
            + String(format: "size: %d bytes (metadata %d, data %d at offset %d)\n", h.fileLength, h.metadataLength, h.dataLength, h.dataOffset)
    }
}
