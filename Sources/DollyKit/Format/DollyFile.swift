import CSIMD
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A mapped `.dolly` file: header and metadata checked at open, tensors used in place.
public final class DollyFile: TensorSource, @unchecked Sendable {
    public let path: String
    public let file: MappedFile
    public let header: FileHeader
    public let metadata: FileMetadata
    private let index: [String: Int]

    public var tensorNames: [String] { metadata.tensors.map(\.name) }
    public var config: ModelConfig { metadata.model }

    /// `mode` .read copies the file into memory (a server that must outlive changes to its file);
    /// .map uses it in place (MappedFile).
    public init(path: String, mode: MappedFile.Mode = .map) throws {
        self.path = path
        file = try MappedFile(path: path, mode: mode)
        let bytes = file.bytes
        header = try FileHeader.decode(bytes, path: path)
        let metaBytes = UnsafeRawBufferPointer(rebasing: bytes[header.metadataOffset..<header.metadataOffset + header.metadataLength])
        guard CRC32.checksum(metaBytes) == header.metadataCRC32 else {
            throw FormatError.badMetadata(path: path, reason: "checksum mismatch")
        }
        do {
            metadata = try JSONDecoder().decode(FileMetadata.self, from: Data(metaBytes))
        } catch let e as ModelError {
            throw FormatError.badMetadata(path: path, reason: errorMessage(e))
        } catch let DecodingError.keyNotFound(key, ctx) {
            let at = (ctx.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")
            throw FormatError.badMetadata(path: path, reason: "missing \(at)")
        } catch let DecodingError.dataCorrupted(ctx) where !ctx.codingPath.isEmpty {
            throw FormatError.badMetadata(path: path, reason: "bad value at \(ctx.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch {
            throw FormatError.badMetadata(path: path, reason: "not valid JSON metadata")
        }
        guard metadata.format == "dolly" else { throw FormatError.badMetadata(path: path, reason: "format is \(metadata.format)") }
        var index: [String: Int] = [:]
        var spans: [(Int, Int)] = []
        for (i, t) in metadata.tensors.enumerated() {
            guard index[t.name] == nil else { throw FormatError.badMetadata(path: path, reason: "tensor \(t.name) listed twice") }
            index[t.name] = i
            guard let expected = t.type.byteCount(shape: t.shape), expected == t.bytes else {
                throw FormatError.badTensor(path: path, tensor: t.name, reason: "\(t.bytes) bytes do not fit type \(t.type.rawValue) and shape \(t.shape)")
            }
            guard t.type != .q3nr16 || header.minor >= 2 else {  // 1.2 replaced 1.1's q3nr16 tiles
                throw FormatError.badTensor(path: path, tensor: t.name, reason: "q3nr16 in format 1.1's tile layout, which 1.2 replaced: convert the model again")
            }
            guard t.offset >= 0, t.offset % FileHeader.tensorAlignment == 0, t.offset <= header.dataLength,
                  t.bytes <= header.dataLength - t.offset else {
                throw FormatError.badTensor(path: path, tensor: t.name, reason: "offset \(t.offset) is misaligned or outside the data section")
            }
            guard t.crc32.count == 8, UInt32(t.crc32, radix: 16) != nil else {
                throw FormatError.badTensor(path: path, tensor: t.name, reason: "bad crc32 \"\(t.crc32)\"")
            }
            spans.append((t.offset, t.bytes))
        }
        spans.sort { $0.0 < $1.0 }
        for (a, b) in zip(spans, spans.dropFirst()) where a.0 + a.1 > b.0 {
            throw FormatError.badMetadata(path: path, reason: "tensors overlap at data offset \(b.0)")
        }
        self.index = index
    }

    /// Whether the file at `path` starts with the `.dolly` magic.
    public static func hasMagic(path: String) -> Bool { FileMagic.matches(path, FileHeader.magic) }

    public func entry(_ name: String) throws -> FileMetadata.Tensor {
        guard let i = index[name] else { throw FormatError.missingTensor(path: path, tensor: name) }
        return metadata.tensors[i]
    }

    /// The bytes of a tensor, in place.
    public func bytes(of t: FileMetadata.Tensor) -> UnsafeRawBufferPointer {
        let start = header.dataOffset + t.offset
        return UnsafeRawBufferPointer(rebasing: file.bytes[start..<start + t.bytes])
    }

    public func tensor(named name: String) throws -> TensorView {
        let t = try entry(name)
        let dtype: DType
        switch t.type {
        case .f32: dtype = .f32
        case .f16: dtype = .f16
        case .bf16: dtype = .bf16
        case .u8: dtype = .u8
        case .q8, .q4, .q8r16, .q4r16, .q4nr16, .q3nr16:
            throw FormatError.badTensor(path: path, tensor: name, reason: "is block-quantized (\(t.type.rawValue)); use it as a matrix")
        }
        return TensorView(name: name, dtype: dtype, shape: t.shape, data: bytes(of: t), owner: file)
    }

    /// A matrix tensor for the kernels, checking its shape.
    public func matrix(_ name: String, rows: Int, cols: Int) throws -> WeightMatrix {
        let t = try entry(name)
        guard t.shape == [rows, cols] else {
            throw FormatError.badTensor(path: path, tensor: name, reason: "shape \(t.shape), expected [\(rows), \(cols)]")
        }
        guard let type = t.type.csimdType else {
            throw FormatError.badTensor(path: path, tensor: name, reason: "type \(t.type.rawValue) is not a matrix type")
        }
        let data = bytes(of: t)
        guard let stride = t.type.unitBytes(cols: cols) else {
            throw FormatError.badTensor(path: path, tensor: name, reason: "\(cols) columns can't be stored as \(t.type.rawValue)")
        }
        return WeightMatrix(raw: csimd_matrix(data: data.baseAddress, rows: Int64(rows), cols: Int64(cols),
                                              row_bytes: Int64(stride), type: type), owner: file)
    }

    /// A 1-D f32/f16/bf16 tensor widened to f32.
    public func vector(_ name: String, count: Int) throws -> [Float] {
        let t = try tensor(named: name)
        guard t.shape == [count], t.dtype.isFloat else {
            throw FormatError.badTensor(path: path, tensor: name, reason: "shape \(t.shape) \(t.dtype.rawValue), expected [\(count)] float")
        }
        return t.toFloat32()
    }

    /// The embedded tokenizer.json bytes.
    public func tokenizerData() throws -> Data {
        let t = try entry(metadata.tokenizer)
        guard t.type == .u8 else { throw FormatError.badTensor(path: path, tensor: t.name, reason: "tokenizer must be u8") }
        return Data(bytes(of: t))
    }

    /// Checks every tensor's CRC-32 (reads the whole file once, releasing pages as it goes).
    public func verify(progress: (Int) -> Void = { _ in }) throws {
        for t in metadata.tensors {
            let b = bytes(of: t)
            let crc = CRC32.checksum(b)
            file.release(b)
            progress(t.bytes)
            guard FileMetadata.hex(crc) == t.crc32 else { throw FormatError.checksumMismatch(path: path, tensor: t.name) }
        }
    }

    /// Bits per weight over every matrix (the quantized part of the model).
    public var matrixBitsPerWeight: Double { bitsPerWeight { $0.shape.count == 2 } }

    /// Bits per weight of the layer matrices alone (what the recipes' 4.5 / 3.5 refer to).
    public var layerMatrixBitsPerWeight: Double { bitsPerWeight { $0.shape.count == 2 && $0.name.hasPrefix("layers.") } }

    /// The whole file's bits over every model value (all tensors but the tokenizer's bytes).
    public var fileBitsPerWeight: Double {
        let values = metadata.tensors.filter { $0.type != .u8 }.reduce(0.0) { $0 + Double($1.shape.reduce(1, *)) }
        return values > 0 ? Double(header.fileLength) * 8 / values : 0
    }

    private func bitsPerWeight(_ include: (FileMetadata.Tensor) -> Bool) -> Double {
        var bits = 0.0, count = 0.0
        for t in metadata.tensors where include(t) {
            bits += Double(t.bytes) * 8
            count += Double(t.shape.reduce(1, *))
        }
        return count > 0 ? bits / count : 0
    }
}
