#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One member of a zip archive, as described by the central directory.
public struct ZipEntry: Sendable, Equatable {
    public let name: String
    /// 0 = stored; anything else is refused when the data is asked for.
    public let method: Int
    public let crc32: UInt32
    public let compressedSize: Int
    public let uncompressedSize: Int
    /// Offset of the entry's data (just past its local header) in the file.
    public let dataOffset: Int
}

/// A read-only zip archive over a mapped file: enough of the format to read what torch.save
/// writes (stored entries, ZIP64 for files over 4 GB). Entry data is a slice of the mapping.
public final class ZipArchive: @unchecked Sendable {
    public let file: MappedFile
    /// Entries in central-directory order.
    public let entries: [ZipEntry]
    private let byName: [String: Int]

    private var path: String { file.path }

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        let directory = try Self.findCentralDirectory(file)
        entries = try Self.readCentralDirectory(file, directory)
        var byName: [String: Int] = [:]
        for (i, e) in entries.enumerated() {
            guard byName.updateValue(i, forKey: e.name) == nil else {
                throw CheckpointError.badZip(file: file.path, reason: "entry \(e.name) appears twice")
            }
        }
        self.byName = byName
    }

    public func entry(named name: String) -> ZipEntry? {
        byName[name].map { entries[$0] }
    }

    /// The entry's bytes, a zero-copy slice of the mapping. Compressed entries are refused.
    public func data(of entry: ZipEntry) throws -> UnsafeRawBufferPointer {
        guard entry.method == 0 else {
            throw CheckpointError.compressedEntry(file: path, entry: entry.name, method: entry.method)
        }
        guard let d = file.bytes.checkedSlice(entry.dataOffset, entry.uncompressedSize) else {
            throw CheckpointError.truncated(file: path, what: "data of entry \(entry.name)")
        }
        return d
    }

    /// Recomputes the entry's CRC-32 and throws if it differs from the recorded one: the cheap
    /// way to refuse a damaged download before converting it.
    public func verifyCRC32(_ entry: ZipEntry, progress: (Int) -> Void = { _ in }) throws {
        // In 64 MiB steps, releasing each from the resident set: memory stays flat on any file size.
        let bytes = try data(of: entry)
        var actual: UInt32 = 0
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + (64 << 20))
            let chunk = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
            actual = CRC32.checksum(chunk, previous: actual)
            MappedFile.releasePages(chunk)
            progress(end - start)
            start = end
        }
        guard actual == entry.crc32 else {
            throw CheckpointError.crcMismatch(file: path, entry: entry.name, expected: entry.crc32, actual: actual)
        }
    }

    // MARK: - Parsing

    private struct Directory {
        var offset: Int
        var size: Int
        var count: Int
    }

    private static let eocdSignature: UInt32 = 0x0605_4B50
    private static let eocd64LocatorSignature: UInt32 = 0x0706_4B50
    private static let eocd64Signature: UInt32 = 0x0606_4B50
    private static let centralSignature: UInt32 = 0x0201_4B50
    private static let localSignature: UInt32 = 0x0403_4B50
    private static let eocdSize = 22
    private static let centralHeaderSize = 46
    private static let localHeaderSize = 30

    /// Scans backwards for the end-of-central-directory record (it may be followed by a comment of
    /// up to 64 KiB), then follows the ZIP64 locator if there is one.
    private static func findCentralDirectory(_ file: MappedFile) throws -> Directory {
        let b = file.bytes
        let path = file.path
        guard b.count >= eocdSize else {
            throw CheckpointError.badZip(file: path, reason: "file is \(b.count) bytes, too short for a zip archive")
        }
        var at = b.count - eocdSize
        let lowest = max(0, at - 0xFFFF)
        var found: Int?
        while at >= lowest {
            // A real record's comment length accounts exactly for the rest of the file; this rejects
            // signature bytes that merely occur inside a comment or entry data.
            if b.le(UInt32.self, at: at) == eocdSignature,
               let commentLength = b.le(UInt16.self, at: at + 20),
               at + eocdSize + Int(commentLength) == b.count {
                found = at
                break
            }
            at -= 1
        }
        guard let eocd = found else {
            throw CheckpointError.badZip(file: path, reason: "no end-of-central-directory record (file truncated or not a zip)")
        }
        let disk = b.le(UInt16.self, at: eocd + 4)!
        let cdDisk = b.le(UInt16.self, at: eocd + 6)!
        var dir = Directory(offset: Int(b.le(UInt32.self, at: eocd + 16)!),
                            size: Int(b.le(UInt32.self, at: eocd + 12)!),
                            count: Int(b.le(UInt16.self, at: eocd + 10)!))

        // ZIP64: a 20-byte locator sits right before the classic record and points to the
        // 64-bit record, whose fields replace the saturated 16/32-bit ones.
        if eocd >= 20, b.le(UInt32.self, at: eocd - 20) == eocd64LocatorSignature {
            let loc = eocd - 20
            guard let rawOffset = b.le(UInt64.self, at: loc + 8), let recOffset = Int(exactly: rawOffset),
                  let rec = b.checkedSlice(recOffset, 56), rec.le(UInt32.self, at: 0) == eocd64Signature else {
                throw CheckpointError.badZip(file: path, reason: "ZIP64 locator points to no ZIP64 end-of-central-directory record")
            }
            guard rec.le(UInt32.self, at: 16) == 0, rec.le(UInt32.self, at: 20) == 0 else {
                throw CheckpointError.badZip(file: path, reason: "multi-disk archives are not supported")
            }
            guard let count = Int(exactly: rec.le(UInt64.self, at: 32)!),
                  let size = Int(exactly: rec.le(UInt64.self, at: 40)!),
                  let offset = Int(exactly: rec.le(UInt64.self, at: 48)!) else {
                throw CheckpointError.badZip(file: path, reason: "ZIP64 central directory size or offset is out of range")
            }
            dir = Directory(offset: offset, size: size, count: count)
        } else if disk != 0 || cdDisk != 0 {
            throw CheckpointError.badZip(file: path, reason: "multi-disk archives are not supported")
        }

        guard b.checkedRange(dir.offset, dir.size) != nil else {
            throw CheckpointError.truncated(file: path, what: "zip central directory")
        }
        // Each header is at least 46 bytes, so a larger count is a lie; checking first keeps a
        // hostile count from reserving absurd memory.
        guard dir.count <= dir.size / centralHeaderSize else {
            throw CheckpointError.badZip(file: path, reason: "central directory claims \(dir.count) entries in \(dir.size) bytes")
        }
        return dir
    }

    private static func readCentralDirectory(_ file: MappedFile, _ dir: Directory) throws -> [ZipEntry] {
        let b = file.bytes
        let path = file.path
        let cd = b.checkedSlice(dir.offset, dir.size)!
        var entries: [ZipEntry] = []
        entries.reserveCapacity(dir.count)
        var at = 0
        for index in 0..<dir.count {
            guard cd.le(UInt32.self, at: at) == centralSignature, let fixed = cd.checkedSlice(at, centralHeaderSize) else {
                throw CheckpointError.badZip(file: path, reason: "central directory header \(index) is missing or malformed")
            }
            let flags = fixed.le(UInt16.self, at: 8)!
            let method = Int(fixed.le(UInt16.self, at: 10)!)
            let crc = fixed.le(UInt32.self, at: 16)!
            var compressed = UInt64(fixed.le(UInt32.self, at: 20)!)
            var uncompressed = UInt64(fixed.le(UInt32.self, at: 24)!)
            let nameLength = Int(fixed.le(UInt16.self, at: 28)!)
            let extraLength = Int(fixed.le(UInt16.self, at: 30)!)
            let commentLength = Int(fixed.le(UInt16.self, at: 32)!)
            var disk = UInt32(fixed.le(UInt16.self, at: 34)!)
            var localOffset = UInt64(fixed.le(UInt32.self, at: 42)!)
            guard let nameBytes = cd.checkedSlice(at + centralHeaderSize, nameLength),
                  let extra = cd.checkedSlice(at + centralHeaderSize + nameLength, extraLength),
                  cd.checkedRange(at + centralHeaderSize + nameLength + extraLength, commentLength) != nil else {
                throw CheckpointError.badZip(file: path, reason: "central directory header \(index) runs past the directory")
            }
            let name = String(decoding: nameBytes, as: UTF8.self)
            guard flags & 1 == 0 else {
                throw CheckpointError.badZip(file: path, reason: "entry \(name) is encrypted")
            }

            // The ZIP64 extra field holds, in this order, only those values whose 32/16-bit
            // fields are saturated.
            if let z = findExtra(extra, id: 0x0001) {
                var p = 0
                func next64() throws -> UInt64 {
                    guard let v = z.le(UInt64.self, at: p) else {
                        throw CheckpointError.badZip(file: path, reason: "ZIP64 extra field of \(name) is too short")
                    }
                    p += 8
                    return v
                }
                if uncompressed == 0xFFFF_FFFF { uncompressed = try next64() }
                if compressed == 0xFFFF_FFFF { compressed = try next64() }
                if localOffset == 0xFFFF_FFFF { localOffset = try next64() }
                if disk == 0xFFFF {
                    guard let d = z.le(UInt32.self, at: p) else {
                        throw CheckpointError.badZip(file: path, reason: "ZIP64 extra field of \(name) is too short")
                    }
                    disk = d
                }
            }
            guard disk == 0 else {
                throw CheckpointError.badZip(file: path, reason: "entry \(name) is on another disk; multi-disk archives are not supported")
            }
            guard let cSize = Int(exactly: compressed), let uSize = Int(exactly: uncompressed),
                  let lOffset = Int(exactly: localOffset) else {
                throw CheckpointError.badZip(file: path, reason: "entry \(name) has an out-of-range size or offset")
            }
            if method == 0 && cSize != uSize {
                throw CheckpointError.badZip(file: path, reason: "stored entry \(name) has compressed size \(cSize) but size \(uSize)")
            }
            let dataOffset = try localDataOffset(file, name: name, nameBytes: nameBytes, localOffset: lOffset)
            guard b.checkedRange(dataOffset, cSize) != nil else {
                throw CheckpointError.truncated(file: path, what: "data of entry \(name)")
            }
            entries.append(ZipEntry(name: name, method: method, crc32: crc, compressedSize: cSize,
                                    uncompressedSize: uSize, dataOffset: dataOffset))
            at += centralHeaderSize + nameLength + extraLength + commentLength
        }
        return entries
    }

    /// Reads the local header to find where the data starts: its extra field (which torch uses
    /// as padding to align tensor data) may differ in length from the central one.
    private static func localDataOffset(_ file: MappedFile, name: String, nameBytes: UnsafeRawBufferPointer,
                                        localOffset: Int) throws -> Int {
        let b = file.bytes
        guard let local = b.checkedSlice(localOffset, localHeaderSize) else {
            throw CheckpointError.truncated(file: file.path, what: "local header of entry \(name)")
        }
        guard local.le(UInt32.self, at: 0) == localSignature else {
            throw CheckpointError.badZip(file: file.path, reason: "entry \(name) does not point to a local header")
        }
        let nameLength = Int(local.le(UInt16.self, at: 26)!)
        let extraLength = Int(local.le(UInt16.self, at: 28)!)
        let start = localOffset + localHeaderSize   // cannot overflow: the 30 bytes are in the file
        guard let localName = b.checkedSlice(start, nameLength), b.checkedRange(start + nameLength, extraLength) != nil else {
            throw CheckpointError.truncated(file: file.path, what: "local header of entry \(name)")
        }
        guard localName.elementsEqual(nameBytes) else {
            throw CheckpointError.badZip(file: file.path, reason: "local header name differs from central directory name for \(name)")
        }
        return start + nameLength + extraLength
    }

    /// The payload of the extra-field block with the given id, if present and well-formed.
    private static func findExtra(_ extra: UnsafeRawBufferPointer, id: UInt16) -> UnsafeRawBufferPointer? {
        var p = 0
        while let tag = extra.le(UInt16.self, at: p), let size = extra.le(UInt16.self, at: p + 2) {
            guard let payload = extra.checkedSlice(p + 4, Int(size)) else { return nil }
            if tag == id { return payload }
            p += 4 + Int(size)
        }
        return nil
    }
}
