#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The `.imatrix` file (docs/FORMAT.md, "Importance matrix"): magic `DLYIMTX1`, a little-endian u32
/// header length, the JSON header (identity, calibration, tensor names and widths in order, the
/// covariance's band), the columns' f32 values in that order, then (version 2) the input covariances'
/// bands in that order, and a CRC-32 of everything before it.
extension ImportanceMatrix {
    static let magic = Array("DLYIMTX1".utf8)
    /// How an importance matrix file starts (for a check before replacing a file).
    public static var fileMagic: [UInt8] { magic }

    struct Header: Codable {
        var format = "dolly-imatrix"
        /// 1: diagonal only; 2: with the input covariance's bands after the columns.
        var version = 1
        var identity: Identity
        var calibration: Calibration
        var tensors: [Entry]
        var covariance: CovarianceHeader?

        struct Entry: Codable {
            var name: String
            var columns: Int
        }

        struct CovarianceHeader: Codable {
            var band: Int
        }
    }

    /// Tensor names in file order: layer by layer, the table's matrices in order.
    var orderedNames: [String] {
        (0..<identity.numHiddenLayers).flatMap { l in Self.matrices.map { FileTensorName.layer(l, $0.fileSuffix) } }
    }

    /// The file's bytes in order, piece by piece (the covariance is hundreds of MB: never copied whole).
    private func serialize(_ emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        let names = orderedNames
        let header = Header(version: covariance == nil ? 1 : 2, identity: identity, calibration: calibration,
                            tensors: try names.map { n in
                                guard let v = columns[n] else { throw ImportanceMatrixError.malformed("no values for \(n)") }
                                return Header.Entry(name: n, columns: v.count)
                            },
                            covariance: covariance.map { Header.CovarianceHeader(band: $0.band) })
        if let covariance, covariance.tensors.map(\.name) != names {
            throw ImportanceMatrixError.malformed("the covariance's tensors are not the matrix's")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var json = try encoder.encode(header)
        // Trailing spaces (JSON whitespace) put the values at a multiple of 64 bytes, so a mapped
        // file's floats are aligned.
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (64 - (12 + json.count) % 64) % 64))
        var head = Data(Self.magic)
        var length = UInt32(json.count).littleEndian
        withUnsafeBytes(of: &length) { head.append(contentsOf: $0) }
        head.append(json)
        try head.withUnsafeBytes { try emit($0) }
        for n in names { try columns[n]!.withUnsafeBytes { try emit($0) } }  // little-endian hosts only (as .dolly)
        if let covariance { try emit(UnsafeRawBufferPointer(covariance.values)) }
    }

    public func encoded() throws -> Data {
        var out = Data()
        try serialize { out.append(contentsOf: $0) }
        var crc = out.withUnsafeBytes { CRC32.checksum($0) }.littleEndian
        withUnsafeBytes(of: &crc) { out.append(contentsOf: $0) }
        return out
    }

    /// Writes atomically: a partial file never replaces a good one. Refuses a path that is one of
    /// `inputs` (or inside an input folder), or an existing file that is not an importance matrix
    /// unless `force` (OutputGuard).
    /// `isCancelled` is polled between pieces: a cancelled write leaves nothing.
    public func write(to path: String, inputs: [String] = [], force: Bool = false,
                      isCancelled: () -> Bool = { false }) throws {
        let target = try OutputGuard.check(output: path, inputs: inputs, magic: Self.magic, kind: "an importance matrix file", force: force)
        let writer = try AtomicFileWriter(finalPath: target)
        do {
            var crc: UInt32 = 0
            try serialize { piece in
                if isCancelled() { throw FormatError.interrupted }
                try writer.write(piece)
                crc = CRC32.checksum(piece, previous: crc)
            }
            var stored = crc.littleEndian
            try withUnsafeBytes(of: &stored) { try writer.write($0) }
            if isCancelled() { throw FormatError.interrupted }
            try writer.commit()
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// Maps the file: a covariance is used in place, not read into memory.
    public init(contentsOf path: String) throws {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw ModelError.missingFile(path) }
        try self.init(bytes: file.bytes, owner: file)
    }

    public init(data: Data) throws {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(data.count, 1), alignment: 64)
        data.copyBytes(to: copy)
        try self.init(bytes: UnsafeRawBufferPointer(rebasing: copy[0..<data.count]), owner: OwnedBytes(copy))
    }

    private final class OwnedBytes {
        let bytes: UnsafeMutableRawBufferPointer
        init(_ bytes: UnsafeMutableRawBufferPointer) { self.bytes = bytes }
        deinit { bytes.deallocate() }
    }

    private init(bytes: UnsafeRawBufferPointer, owner: AnyObject) throws {
        func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
        guard bytes.count >= 16, Array(bytes[0..<8]) == Self.magic else {
            throw ImportanceMatrixError.malformed("no DLYIMTX1 magic")
        }
        let stored = u32(bytes.count - 4)
        // In 64 MB steps, giving a mapped file's pages back behind the check (a 3b file is 1.2 GB; the
        // converter maps each tensor's bands again when it needs them).
        var crc: UInt32 = 0
        for start in stride(from: 0, to: bytes.count - 4, by: 64 << 20) {
            let piece = UnsafeRawBufferPointer(rebasing: bytes[start..<min(start + (64 << 20), bytes.count - 4)])
            crc = CRC32.checksum(piece, previous: crc)
            if owner is MappedFile { MappedFile.releasePages(piece) }
        }
        guard crc == stored else { throw ImportanceMatrixError.malformed("CRC-32 mismatch (damaged or truncated)") }
        let headerLength = Int(u32(8))
        guard headerLength <= bytes.count - 16 else { throw ImportanceMatrixError.malformed("header longer than the file") }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(bytes[12..<12 + headerLength]))
        } catch {
            throw ImportanceMatrixError.malformed("bad header: \(errorMessage(error))")
        }
        guard header.format == "dolly-imatrix", header.version == (header.covariance == nil ? 1 : 2) else {
            throw ImportanceMatrixError.malformed("format \(header.format) version \(header.version)")
        }
        guard header.tensors.allSatisfy({ $0.columns > 0 && $0.columns <= 1 << 20 }) else {
            throw ImportanceMatrixError.malformed("a tensor of no or too many columns")
        }
        let total = header.tensors.reduce(0) { $0 + $1.columns }
        var covarianceFloats = 0
        if let c = header.covariance {
            guard c.band > 0, c.band % 32 == 0, c.band <= 4096 else {
                throw ImportanceMatrixError.malformed("covariance band \(c.band) (a multiple of 32 up to 4096)")
            }
            covarianceFloats = InputCovariance.layout(header.tensors.map { ($0.name, $0.columns) }, band: c.band).floats
        }
        let valuesAt = 12 + headerLength
        guard valuesAt + 4 * (total + covarianceFloats) + 4 == bytes.count else {
            throw ImportanceMatrixError.malformed("values do not fill the file as the header says")
        }
        var columns: [String: [Float]] = [:]
        var at = valuesAt
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
        var covariance: InputCovariance?
        if let c = header.covariance {
            guard at % 4 == 0, let base = bytes.baseAddress else {
                throw ImportanceMatrixError.malformed("covariance values are not aligned")
            }
            covariance = InputCovariance(band: c.band, tensors: header.tensors.map { ($0.name, $0.columns) },
                                         base: base + at, owner: owner)
        }
        self.init(identity: header.identity, calibration: header.calibration, columns: columns, covariance: covariance)
    }
}
