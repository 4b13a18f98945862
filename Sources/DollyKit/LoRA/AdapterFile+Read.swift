#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension AdapterFile {
    /// A `.dolly-lora` file read into memory and checked on its own (the header, the metadata, every
    /// tensor's place and CRC-32), before it is fitted to a model (`LoRAAdapter`) or shown (`dolly inspect`).
    /// The bytes are a copy: a server keeps its adapters whatever happens to their files later.
    public final class Contents: @unchecked Sendable {
        /// The file, or the name an adapter made in memory goes by in messages.
        public let path: String
        public let header: FileHeader
        public let metadata: AdapterMetadata
        /// Every tensor by name.
        let tensors: [String: FileMetadata.Tensor]
        private let bytes: UnsafeRawBufferPointer
        /// Keeps `bytes` alive: the file's copy, or an image made in memory.
        private let storage: AnyObject

        public convenience init(path: String) throws {
            guard isDirectory(path) == false else { throw LoRAError.badFile(path: path, reason: "no such file, or a folder") }
            let file: MappedFile
            do { file = try MappedFile(path: path, mode: .read) } catch {
                throw LoRAError.badFile(path: path, reason: errorMessage(error))
            }
            try self.init(path: path, bytes: file.bytes, storage: file)
        }

        /// A file's bytes made in memory (`AdapterFile.image`), checked as a file is.
        public convenience init(image: [UInt8], name: String) throws {
            let copy = AlignedBytes(image)  // 64-byte aligned, as the file's copy is (page-aligned)
            try self.init(path: name, bytes: copy.bytes, storage: copy)
        }

        private init(path: String, bytes raw: UnsafeRawBufferPointer, storage: AnyObject) throws {
            self.path = path
            self.bytes = raw
            self.storage = storage
            do { header = try FileHeader.decode(raw, path: path, magic: AdapterFile.magic) } catch FormatError.notDollyFile {
                throw LoRAError.notAdapterFile(path: path)
            } catch {
                throw LoRAError.badFile(path: path, reason: errorMessage(error))
            }
            let metaBytes = UnsafeRawBufferPointer(rebasing: raw[header.metadataOffset..<header.metadataOffset + header.metadataLength])
            guard CRC32.checksum(metaBytes) == header.metadataCRC32 else { throw LoRAError.badFile(path: path, reason: "metadata checksum mismatch") }
            let meta: AdapterMetadata
            do { meta = try JSONDecoder().decode(AdapterMetadata.self, from: Data(metaBytes)) } catch {
                throw LoRAError.badFile(path: path, reason: "metadata is not an adapter's JSON")
            }
            func bad(_ reason: String) -> LoRAError { .badFile(path: path, reason: reason) }
            guard meta.format == AdapterFile.formatName else { throw bad("format is \(meta.format)") }
            guard meta.qkvRows == "split" else { throw bad("qkv_rows \(meta.qkvRows) is not split") }
            metadata = meta
            var byName: [String: FileMetadata.Tensor] = [:]
            for t in meta.tensors {
                guard byName.updateValue(t, forKey: t.name) == nil else { throw bad("tensor \(t.name) listed twice") }
                guard let size = t.type.byteCount(shape: t.shape), size == t.bytes else { throw bad("tensor \(t.name): \(t.bytes) bytes do not fit \(t.type.rawValue) \(t.shape)") }
                guard t.offset >= 0, t.offset % FileHeader.tensorAlignment == 0, t.offset <= header.dataLength,
                      t.bytes <= header.dataLength - t.offset else { throw bad("tensor \(t.name) lies outside the data section") }
                let span = UnsafeRawBufferPointer(rebasing: raw[header.dataOffset + t.offset..<header.dataOffset + t.offset + t.bytes])
                guard FileMetadata.hex(CRC32.checksum(span)) == t.crc32 else { throw bad("tensor \(t.name) is corrupted (CRC-32 mismatch)") }
            }
            tensors = byName
        }

        /// Where tensor `t`'s bytes start (valid while this object lives).
        func data(_ t: FileMetadata.Tensor) -> UnsafeRawPointer { bytes.baseAddress! + header.dataOffset + t.offset }

        /// The base shape the file records as a configuration (its four sizes; nothing else of it is
        /// used): what the adapter is checked against when there is no model (`dolly inspect`).
        public func recordedBase() throws -> ModelConfig {
            let b = metadata.base
            do {
                return try ModelConfig(hiddenSize: b.hiddenSize, numHiddenLayers: b.numHiddenLayers, numAttentionHeads: b.numAttentionHeads,
                                       intermediateSize: b.intermediateSize, vocabSize: 1, maxPositionEmbeddings: 1, rotaryPct: 0,
                                       rotaryBase: 10000, layerNormEps: 1e-5, useParallelResidual: true)
            } catch {
                throw LoRAError.badFile(path: path, reason: "base: \(errorMessage(error))")
            }
        }
    }
}

/// Bytes copied to a 64-byte aligned allocation, freed with the object.
private final class AlignedBytes {
    let bytes: UnsafeRawBufferPointer
    init(_ v: [UInt8]) {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(v.count, 1), alignment: 64)
        if !v.isEmpty { v.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        bytes = UnsafeRawBufferPointer(start: p, count: v.count)
    }
    deinit { bytes.baseAddress.map { UnsafeMutableRawPointer(mutating: $0).deallocate() } }
}
