/// CRC-32 (IEEE 802.3, the zip polynomial), slicing-by-8: multi-gigabyte checkpoints are verified
/// once after download, so eight table lookups per 8 bytes instead of one per byte matters.
public enum CRC32 {
    /// Eight 256-entry tables, flattened; table k advances a byte through k extra zero bytes.
    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
            t[i] = c
        }
        for k in 1..<8 {
            for i in 0..<256 {
                let prev = t[(k - 1) * 256 + i]
                t[k * 256 + i] = (prev >> 8) ^ t[Int(prev & 0xFF)]
            }
        }
        return t
    }()

    /// The CRC-32 of `bytes`, continuing from `previous` (the CRC of what came before, 0 at start).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, previous: UInt32 = 0) -> UInt32 {
        var crc = ~previous
        let n = bytes.count
        guard n > 0, let base = bytes.baseAddress else { return previous }
        tables.withUnsafeBufferPointer { t in
            var p = 0
            while n - p >= 8 {
                let lo = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: p, as: UInt32.self)) ^ crc
                let hi = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: p + 4, as: UInt32.self))
                crc = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                p += 8
            }
            while p < n {
                let b = UInt32(base.load(fromByteOffset: p, as: UInt8.self))
                crc = t[Int((crc ^ b) & 0xFF)] ^ (crc >> 8)
                p += 1
            }
        }
        return ~crc
    }
}
