#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A single `.safetensors` file: an 8-byte little-endian header length, a JSON header mapping
/// names to dtype/shape/data_offsets, then the tensor bytes. Every entry is validated at open.
public final class SafetensorsCheckpoint: TensorSource, @unchecked Sendable {
    public let file: MappedFile
    /// In data order (the JSON object's key order is not preserved by the decoder; data order is
    /// what the writer used and is stable).
    public let tensorNames: [String]
    private let views: [String: TensorView]

    /// The reference implementation refuses headers over 100 MB; so do we, before parsing.
    static let maxHeaderBytes = 100_000_000

    static let dtypes: [String: DType] = [
        "F32": .f32, "F16": .f16, "BF16": .bf16, "F64": .f64, "I8": .i8, "U8": .u8,
        "I16": .i16, "I32": .i32, "I64": .i64, "BOOL": .bool,
    ]

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        let path = file.path
        let b = file.bytes
        func bad(_ reason: String) -> CheckpointError { .badSafetensors(file: path, reason: reason) }

        guard let rawLength = b.le(UInt64.self, at: 0) else {
            throw CheckpointError.truncated(file: path, what: "safetensors header length")
        }
        guard rawLength <= UInt64(Self.maxHeaderBytes) else {
            throw bad("header length \(rawLength) is absurd (limit \(Self.maxHeaderBytes))")
        }
        let headerLength = Int(rawLength)
        guard let header = b.checkedSlice(8, headerLength) else {
            throw CheckpointError.truncated(file: path, what: "safetensors header of \(headerLength) bytes")
        }
        let dataStart = 8 + headerLength
        let dataSize = b.count - dataStart

        let decoded: [String: HeaderEntry]
        do {
            decoded = try JSONDecoder().decode(Header.self, from: Data(header)).entries
        } catch {
            throw bad("header is not valid JSON of the expected shape (\(Self.describe(error)))")
        }

        var ordered: [(name: String, entry: HeaderEntry)] = decoded.map { ($0.key, $0.value) }
        ordered.sort { ($0.entry.begin, $0.name) < ($1.entry.begin, $1.name) }
        var views: [String: TensorView] = [:]
        var previousEnd = 0
        var previousName = ""
        for (name, e) in ordered {
            guard let dtype = Self.dtypes[e.dtype] else { throw bad("tensor \(name) has unknown dtype \(e.dtype)") }
            guard let count = Checked.elementCount(e.shape), let bytes = Checked.multiply(count, dtype.size) else {
                throw bad("tensor \(name) has invalid shape \(e.shape)")
            }
            guard e.begin >= 0, e.begin <= e.end, e.end <= dataSize else {
                throw bad("tensor \(name) data_offsets [\(e.begin), \(e.end)] are outside the \(dataSize)-byte data section")
            }
            guard e.end - e.begin == bytes else {
                throw bad("tensor \(name) spans \(e.end - e.begin) bytes but \(e.shape) \(e.dtype) needs \(bytes)")
            }
            guard e.begin >= previousEnd else { throw bad("tensors \(previousName) and \(name) overlap") }
            previousEnd = e.end
            previousName = name
            let data = b.checkedSlice(dataStart + e.begin, bytes)!  // in bounds: checked against dataSize above
            views[name] = TensorView(name: name, dtype: dtype, shape: e.shape, data: data, owner: file)
        }
        self.tensorNames = ordered.map(\.name)
        self.views = views
    }

    public func tensor(named name: String) throws -> TensorView {
        guard let v = views[name] else { throw CheckpointError.tensorNotFound(source: file.path, tensor: name) }
        return v
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case let DecodingError.dataCorrupted(c): return c.debugDescription
        case let DecodingError.typeMismatch(_, c), let DecodingError.valueNotFound(_, c):
            return "\(c.codingPath.map(\.stringValue).joined(separator: ".")): \(c.debugDescription)"
        case let DecodingError.keyNotFound(k, c):
            return "\((c.codingPath + [k]).map(\.stringValue).joined(separator: ".")) is missing"
        default: return "\(error)"
        }
    }
}

/// One header entry: {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}.
private struct HeaderEntry: Decodable {
    let dtype: String
    let shape: [Int]
    let begin: Int
    let end: Int

    enum CodingKeys: String, CodingKey { case dtype, shape, data_offsets }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        dtype = try c.decode(String.self, forKey: .dtype)
        shape = try c.decode([Int].self, forKey: .shape)
        let offsets = try c.decode([Int].self, forKey: .data_offsets)
        guard offsets.count == 2 else {
            throw DecodingError.dataCorruptedError(forKey: .data_offsets, in: c, debugDescription: "data_offsets must have two values")
        }
        begin = offsets[0]
        end = offsets[1]
    }
}

/// The whole header: tensor entries plus an optional `__metadata__` string map, which we ignore.
private struct Header: Decodable {
    let entries: [String: HeaderEntry]

    struct Key: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        var entries: [String: HeaderEntry] = [:]
        for key in c.allKeys where key.stringValue != "__metadata__" {
            entries[key.stringValue] = try c.decode(HeaderEntry.self, forKey: key)
        }
        self.entries = entries
    }
}
