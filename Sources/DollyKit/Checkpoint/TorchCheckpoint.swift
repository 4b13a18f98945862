#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A `pytorch_model.bin` written by torch.save (the zip format of torch >= 1.6): a state_dict
/// pickle plus one stored zip entry per storage. Tensors are views into the mapping.
public final class TorchCheckpoint: TensorSource, @unchecked Sendable {
    public let archive: ZipArchive
    /// The record directory inside the zip: "archive" from newer torch or when saving to a buffer,
    /// the file's stem (e.g. "pytorch_model") from torch writing to a path.
    public let prefix: String
    public let tensorNames: [String]
    /// Each tensor's view, or the reason it cannot be read (kept per tensor so one odd tensor
    /// does not hide the others, yet is reported by name when asked for).
    private let views: [String: Result<TensorView, CheckpointError>]

    private var path: String { archive.file.path }

    public convenience init(path: String) throws {
        try self.init(archive: ZipArchive(path: path))
    }

    public init(archive: ZipArchive) throws {
        self.archive = archive
        let path = archive.file.path
        let pickles = archive.entries.filter { e in
            let parts = e.name.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 2 && parts[1] == "data.pkl" && !parts[0].isEmpty
        }
        guard pickles.count == 1, let pickleEntry = pickles.first else {
            throw pickles.isEmpty
                ? CheckpointError.missingEntry(file: path, entry: "<record>/data.pkl (not a torch.save zip archive)")
                : CheckpointError.badZip(file: path, reason: "more than one data.pkl record")
        }
        prefix = String(pickleEntry.name.dropLast("/data.pkl".count))
        if let order = archive.entry(named: "\(prefix)/byteorder") {
            let text = String(decoding: try archive.data(of: order), as: UTF8.self)
            guard text == "little" else {
                throw CheckpointError.badZip(file: path, reason: "byteorder is \(text); only little-endian checkpoints are supported")
            }
        }
        let records = try TorchPickle.stateDict(try archive.data(of: pickleEntry), file: path)

        var storages: [String: UnsafeRawBufferPointer] = [:]
        var views: [String: Result<TensorView, CheckpointError>] = [:]
        for (name, t) in records {
            let storage: UnsafeRawBufferPointer
            if let s = storages[t.storageKey] {
                storage = s
            } else {
                let entryName = "\(prefix)/data/\(t.storageKey)"
                guard let entry = archive.entry(named: entryName) else {
                    throw CheckpointError.missingEntry(file: path, entry: entryName)
                }
                storage = try archive.data(of: entry)
                storages[t.storageKey] = storage
            }
            // torch writes exactly numel * itemsize bytes; anything else means damage. Checked
            // per tensor, since each one restates the storage's type and size.
            guard Checked.multiply(t.storageElements, t.dtype.size) == storage.count else {
                throw CheckpointError.badTensor(file: path, tensor: name,
                    reason: "storage \(t.storageKey) holds \(storage.count) bytes, expected \(t.storageElements) \(t.dtype) elements")
            }
            do throws(CheckpointError) {
                views[name] = .success(try Self.view(name: name, t, storage, file: archive.file))
            } catch {
                views[name] = .failure(error)
            }
        }
        self.tensorNames = records.map(\.name)
        self.views = views
    }

    public func tensor(named name: String) throws -> TensorView {
        guard let v = views[name] else { throw CheckpointError.tensorNotFound(source: path, tensor: name) }
        return try v.get()
    }

    /// Verifies the CRC-32 of every zip entry (reads the whole file once); a converter calls
    /// this to refuse a damaged download rather than convert garbage weights.
    /// `isCancelled` is polled between entries (one storage each: at most a few hundred MB), so a
    /// signal during the check of a 24 GB checkpoint is answered within a second, not minutes.
    public func verifyChecksums(progress: (Int) -> Void = { _ in }, isCancelled: () -> Bool = { false }) throws {
        for e in archive.entries {
            if isCancelled() { throw FormatError.interrupted }
            try archive.verifyCRC32(e, progress: progress)
        }
    }

    /// Checks the view is row-major contiguous and inside its storage, and slices it out.
    private static func view(name: String, _ t: PickledTensor, _ storage: UnsafeRawBufferPointer,
                             file: MappedFile) throws(CheckpointError) -> TensorView {
        guard let count = Checked.elementCount(t.shape) else {
            throw .badTensor(file: file.path, tensor: name, reason: "shape \(t.shape) is negative or overflows")
        }
        if count > 0 {
            var expected = 1
            for d in stride(from: t.shape.count - 1, through: 0, by: -1) where t.shape[d] != 1 {
                guard t.stride[d] == expected else {
                    throw .unsupportedLayout(file: file.path, tensor: name,
                        reason: "strides \(t.stride) for shape \(t.shape) are not row-major contiguous")
                }
                expected *= t.shape[d]  // cannot overflow: bounded by count
            }
        }
        guard let end = Checked.add(t.storageOffset, count), end <= t.storageElements,
              let byteStart = Checked.multiply(t.storageOffset, t.dtype.size),
              let data = storage.checkedSlice(byteStart, count * t.dtype.size) else {
            throw .badTensor(file: file.path, tensor: name,
                reason: "elements \(t.storageOffset)..<\(t.storageOffset)+\(count) lie outside storage \(t.storageKey) of \(t.storageElements)")
        }
        return TensorView(name: name, dtype: t.dtype, shape: t.shape, data: data, owner: file)
    }
}
