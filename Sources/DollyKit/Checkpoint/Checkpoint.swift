#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Opening a model directory in whichever published layout it uses.
public enum Checkpoint {
    /// The layouts we recognise, in order of preference: safetensors needs no pickle and no zip.
    public static let candidateFiles = [
        "model.safetensors.index.json", "model.safetensors",
        "pytorch_model.bin.index.json", "pytorch_model.bin",
    ]

    /// Opens the checkpoint in `directory`: sharded or single safetensors, else sharded or
    /// single pytorch_model.bin.
    public static func open(directory: String) throws -> TensorSource {
        func path(_ name: String) -> String { directory.appendingPath(name) }
        func exists(_ name: String) -> Bool {
            isDirectory(path(name)) == false
        }
        if exists("model.safetensors.index.json") {
            return try ShardedCheckpoint(indexPath: path("model.safetensors.index.json")) { try SafetensorsCheckpoint(path: $0) }
        }
        if exists("model.safetensors") { return try SafetensorsCheckpoint(path: path("model.safetensors")) }
        if exists("pytorch_model.bin.index.json") {
            return try ShardedCheckpoint(indexPath: path("pytorch_model.bin.index.json")) { try TorchCheckpoint(path: $0) }
        }
        if exists("pytorch_model.bin") { return try TorchCheckpoint(path: path("pytorch_model.bin")) }
        throw CheckpointError.notFound(directory: directory, lookedFor: candidateFiles)
    }

    /// Buffers that Dolly's published files carry but the model recomputes: the boolean causal
    /// mask, its masked fill value, and the rotary inverse frequencies. Loaders skip these.
    public static func isLegacyBuffer(_ name: String) -> Bool {
        name.hasSuffix(".attention.bias") || name.hasSuffix(".attention.masked_bias")
            || name.hasSuffix(".attention.rotary_emb.inv_freq")
    }
}
