#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A checkpoint split over several files by a Hugging Face `*.index.json`
/// (`{"metadata": {...}, "weight_map": {tensor name: shard file name}}`).
public final class ShardedCheckpoint: TensorSource, @unchecked Sendable {
    public let indexPath: String
    /// Shard by shard in file-name order, each shard's tensors in that shard's order.
    public let tensorNames: [String]
    /// The opened shards, by file name.
    public let shards: [String: TensorSource]
    private let location: [String: String]

    /// Opens the index and every shard it names with `open` (which gets the shard's full path),
    /// and checks that each listed tensor is in the shard the index says.
    public init(indexPath: String, open: (String) throws -> TensorSource) throws {
        self.indexPath = indexPath
        func bad(_ reason: String) -> CheckpointError { .badIndex(file: indexPath, reason: reason) }

        let map: [String: String]
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: indexPath))
            map = try JSONDecoder().decode(Index.self, from: data).weight_map
        } catch let e as DecodingError {
            throw bad("not JSON with a weight_map of name → file (\(errorMessage(e)))")
        } catch {
            throw CheckpointError.badIndex(file: indexPath, reason: "cannot read: \(errorMessage(error))")
        }
        guard !map.isEmpty else { throw bad("weight_map is empty") }

        let directory = indexPath.deletingLastPathPart
        var shards: [String: TensorSource] = [:]
        for file in Set(map.values).sorted() {
            // Shards must sit beside the index; a path here could point anywhere on disk.
            guard !file.isEmpty, !file.contains("/"), file != ".", file != ".." else {
                throw bad("shard name \(file) is not a plain file name")
            }
            shards[file] = try open(directory.appendingPath(file))
        }
        var names: [String] = []
        for file in shards.keys.sorted() {
            let shard = shards[file]!
            let available = Set(shard.tensorNames)
            let wanted = map.filter { $0.value == file }.map(\.key)
            if let missing = wanted.first(where: { !available.contains($0) }) {
                throw bad("tensor \(missing) is listed in \(file) but that shard does not contain it")
            }
            let wantedSet = Set(wanted)
            names += shard.tensorNames.filter { wantedSet.contains($0) }
        }
        self.tensorNames = names
        self.shards = shards
        self.location = map
    }

    public func tensor(named name: String) throws -> TensorView {
        guard let file = location[name], let shard = shards[file] else {
            throw CheckpointError.tensorNotFound(source: indexPath, tensor: name)
        }
        return try shard.tensor(named: name)
    }

    private struct Index: Decodable {
        let weight_map: [String: String]
    }
}
