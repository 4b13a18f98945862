#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The fixed 64-byte header at the start of a `.dolly` file (docs/FORMAT.md section 2).
public struct FileHeader: Equatable, Sendable {
    public static let magic: [UInt8] = Array("DOLLYFMT".utf8)
    public static let size = 64
    public static let currentMajor = 1
    public static let currentMinor = 2
    public static let dataAlignment = 4096
    public static let tensorAlignment = 64

    public var major: Int = currentMajor
    public var minor: Int = currentMinor
    public var flags: UInt32 = 0
    public var metadataOffset: Int = size
    public var metadataLength: Int
    public var dataOffset: Int
    public var dataLength: Int
    public var metadataCRC32: UInt32
    public var fileLength: Int

    public init(metadataLength: Int, dataOffset: Int, dataLength: Int, metadataCRC32: UInt32) {
        self.metadataLength = metadataLength
        self.dataOffset = dataOffset
        self.dataLength = dataLength
        self.metadataCRC32 = metadataCRC32
        fileLength = dataOffset + dataLength
    }

    /// `magic`: the file kind (`.dolly` files, or `.dolly-lora` adapters, which share this header).
    public func encoded(magic: [UInt8] = magic) -> [UInt8] {
        var b = [UInt8]()
        b.reserveCapacity(Self.size)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) } }
        b.append(contentsOf: magic)
        put(UInt16(major)); put(UInt16(minor)); put(flags)
        put(UInt64(metadataOffset)); put(UInt64(metadataLength))
        put(UInt64(dataOffset)); put(UInt64(dataLength))
        put(metadataCRC32)
        let crc = b.withUnsafeBytes { CRC32.checksum($0) }
        put(crc)
        put(UInt64(fileLength))
        return b
    }

    /// Parses and checks the header at the start of `bytes` (the whole file, or at least its first `size` bytes).
    /// `magic`: the kind expected (another kind is `notDollyFile`, for the caller to name).
    public static func decode(_ bytes: UnsafeRawBufferPointer, path: String, magic: [UInt8] = magic) throws -> FileHeader {
        guard bytes.count >= 8, bytes.prefix(8).elementsEqual(magic) else { throw FormatError.notDollyFile(path: path) }
        guard bytes.count >= size else { throw FormatError.truncated(path: path, expected: size, actual: bytes.count) }
        func u16(_ o: Int) -> Int { Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt16.self))) }
        func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        func u64(_ o: Int) throws -> Int {
            let v = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt64.self))
            guard v <= UInt64(Int.max / 2) else { throw FormatError.corruptHeader(path: path, reason: "field at \(o) is out of range") }
            return Int(v)
        }
        let major = u16(8), minor = u16(10)
        let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<52]))
        guard major == currentMajor else {
            // An intact header of another major version, or a damaged version field: say which it looks like.
            if crc == u32(52) || major > currentMajor {
                let unsupported = FormatError.unsupportedVersion(path: path, major: major, minor: minor, supported: currentMajor)
                if crc == u32(52) { throw unsupported }
                // A later major version may lay its header out otherwise, so a mismatch is not proof of damage.
                throw FormatError.corruptHeader(path: path, reason: "header checksum mismatch, or: \(errorMessage(unsupported))")
            }
            throw FormatError.corruptHeader(path: path, reason: "header checksum mismatch")
        }
        guard crc == u32(52) else { throw FormatError.corruptHeader(path: path, reason: "header checksum mismatch") }
        var h = FileHeader(metadataLength: try u64(24), dataOffset: try u64(32), dataLength: try u64(40), metadataCRC32: u32(48))
        h.major = major
        h.minor = minor
        h.flags = u32(12)
        h.metadataOffset = try u64(16)
        h.fileLength = try u64(56)
        // file_length lies outside header_crc32 (bytes 0..51) but must equal data_offset + data_length,
        // which it covers: check that first, so a damaged length field reads as a damaged header,
        // never as a truncated file.
        guard h.dataOffset + h.dataLength == h.fileLength else {  // each field is at most Int.max / 2
            throw FormatError.corruptHeader(path: path, reason: "file_length \(h.fileLength) disagrees with data_offset + data_length \(h.dataOffset + h.dataLength)")
        }
        guard h.metadataOffset >= size, h.metadataOffset + h.metadataLength <= h.dataOffset, h.dataOffset % dataAlignment == 0 else {
            throw FormatError.corruptHeader(path: path, reason: "sections overlap or are misaligned")
        }
        guard h.fileLength == bytes.count else {
            throw FormatError.truncated(path: path, expected: h.fileLength, actual: bytes.count)
        }
        return h
    }
}
