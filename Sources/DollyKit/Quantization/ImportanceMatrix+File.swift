import Foundation

/// The `.imatrix` file (docs/FORMAT.md, "Importance matrix"): magic `DLYIMTX1`, a little-endian u32
/// header length, the JSON header (identity, calibration, tensor names and widths in order), the
/// columns' f32 values in that order, and a CRC-32 of everything before it.
extension ImportanceMatrix {
    static let magic = Array("DLYIMTX1".utf8)

    struct Header: Codable {
        var format = "dolly-imatrix"
        var version = 1
        var identity: Identity
        var calibration: Calibration
        var tensors: [Entry]

        struct Entry: Codable {
            var name: String
            var columns: Int
        }
    }

    /// Tensor names in file order: layer by layer, the table's matrices in order.
    var orderedNames: [String] {
        (0..<identity.numHiddenLayers).flatMap { l in Self.matrices.map { FileTensorName.layer(l, $0.fileSuffix) } }
    }

    public func encoded() throws -> Data {
        let names = orderedNames
        let header = Header(identity: identity, calibration: calibration,
                            tensors: try names.map { n in
                                guard let v = columns[n] else { throw ImportanceMatrixError.malformed("no values for \(n)") }
                                return Header.Entry(name: n, columns: v.count)
                            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(header)
        var out = Data(Self.magic)
        var length = UInt32(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(json)
        for n in names {
            for v in columns[n]! {
                var bits = v.bitPattern.littleEndian
                withUnsafeBytes(of: &bits) { out.append(contentsOf: $0) }
            }
        }
        var crc = out.withUnsafeBytes { CRC32.checksum($0) }.littleEndian
        withUnsafeBytes(of: &crc) { out.append(contentsOf: $0) }
        return out
    }

    /// Writes atomically: a partial file never replaces a good one.
    public func write(to path: String) throws {
        let writer = try AtomicFileWriter(finalPath: path)
        do {
            try encoded().withUnsafeBytes { try writer.write($0) }
            try writer.commit()
        } catch {
            writer.abandon()
            throw error
        }
    }

    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError.missingFile(path) }
        try self.init(data: data)
    }

    public init(data: Data) throws {
        let bytes = [UInt8](data)
        func u32(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }
        guard bytes.count >= 16, Array(bytes[0..<8]) == Self.magic else {
            throw ImportanceMatrixError.malformed("no DLYIMTX1 magic")
        }
        let stored = u32(bytes.count - 4)
        guard bytes.withUnsafeBytes({ CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<bytes.count - 4])) }) == stored else {
            throw ImportanceMatrixError.malformed("CRC-32 mismatch (damaged or truncated)")
        }
        let headerLength = Int(u32(8))
        guard headerLength <= bytes.count - 16 else { throw ImportanceMatrixError.malformed("header longer than the file") }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(bytes[12..<12 + headerLength]))
        } catch {
            throw ImportanceMatrixError.malformed("bad header: \(error.localizedDescription)")
        }
        guard header.format == "dolly-imatrix", header.version == 1 else {
            throw ImportanceMatrixError.malformed("format \(header.format) version \(header.version)")
        }
        let total = header.tensors.reduce(0) { $0 + max(0, $1.columns) }
        guard header.tensors.allSatisfy({ $0.columns > 0 && $0.columns <= 1 << 20 }),
              12 + headerLength + 4 * total + 4 == bytes.count else {
            throw ImportanceMatrixError.malformed("values do not fill the file as the header says")
        }
        var columns: [String: [Float]] = [:]
        var at = 12 + headerLength
        for t in header.tensors {
            var v = [Float](repeating: 0, count: t.columns)
            for j in 0..<t.columns {
                v[j] = Float(bitPattern: u32(at))
                at += 4
            }
            guard v.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw ImportanceMatrixError.malformed("\(t.name) has a negative or non-finite value")
            }
            guard columns.updateValue(v, forKey: t.name) == nil else { throw ImportanceMatrixError.malformed("\(t.name) twice") }
        }
        self.init(identity: header.identity, calibration: header.calibration, columns: columns)
    }
}
