import CSIMD

/// Storage types of tensors in a `.dolly` file (docs/FORMAT.md section 5).
public enum TensorType: String, Codable, Sendable, CaseIterable {
    case f32, f16, bf16, q8, q4, q8r16, q4r16, q4nr16, q3nr16, u8

    /// The kernels' type tag; nil for opaque bytes.
    public var csimdType: Int32? {
        switch self {
        case .f32: return Int32(CSIMD_TYPE_F32.rawValue)
        case .f16: return Int32(CSIMD_TYPE_F16.rawValue)
        case .bf16: return Int32(CSIMD_TYPE_BF16.rawValue)
        case .q8: return Int32(CSIMD_TYPE_Q8.rawValue)
        case .q4: return Int32(CSIMD_TYPE_Q4.rawValue)
        case .q8r16: return Int32(CSIMD_TYPE_Q8R16.rawValue)
        case .q4r16: return Int32(CSIMD_TYPE_Q4R16.rawValue)
        case .q4nr16: return Int32(CSIMD_TYPE_Q4NR16.rawValue)
        case .q3nr16: return Int32(CSIMD_TYPE_Q3NR16.rawValue)
        case .u8: return nil
        }
    }

    public var isBlock: Bool { self == .q8 || self == .q4 || isInterleaved }

    /// Stored in groups of 16 interleaved rows (FORMAT.md section 5).
    public var isInterleaved: Bool { self == .q8r16 || self == .q4r16 || self == .q4nr16 || self == .q3nr16 }

    /// The format minor version that introduced the type (FORMAT.md section 2): a file using it says so.
    public var formatMinor: Int {
        switch self {
        case .q4nr16: return 1
        case .q3nr16: return 2  // 1.2 replaced 1.1's q3nr16 tile layout
        default: return 0
        }
    }

    /// Rows in one storage unit: 16 for interleaved types, else 1.
    public var rowsPerUnit: Int { isInterleaved ? 16 : 1 }

    /// Bytes of one storage unit (a row, or a group of 16 rows) of `cols` columns; nil if impossible.
    public func unitBytes(cols: Int) -> Int? {
        guard let t = csimdType else { return nil }
        let b = Int(csimd_type_row_bytes(t, Int64(cols)))
        return b >= 0 ? b : nil
    }

    /// Bytes of one block of 32 weights (the C block struct's size) for block types; nil otherwise.
    public var blockBytes: Int? {
        switch self {
        case .q8, .q8r16: return MemoryLayout<csimd_block_q8>.size
        case .q4, .q4r16: return MemoryLayout<csimd_block_q4>.size
        case .q4nr16: return MemoryLayout<csimd_block_q4n>.size
        case .q3nr16: return MemoryLayout<csimd_block_q3n>.size
        default: return nil
        }
    }

    /// Bits per weight, scales included.
    public var bitsPerWeight: Double {
        switch self {
        case .f32: return 32
        case .f16, .bf16: return 16
        case .u8: return 8
        case .q8, .q4, .q8r16, .q4r16, .q4nr16, .q3nr16: return Double(blockBytes! * 8) / Double(CSIMD_BLOCK_SIZE)
        }
    }

    /// Bytes for a tensor of this shape, or nil if the type can't hold it (block rows need a
    /// multiple of 32 columns) or the size overflows.
    public func byteCount(shape: [Int]) -> Int? {
        guard shape.allSatisfy({ $0 >= 0 }) else { return nil }
        var count = 1
        for d in shape {
            let (p, o) = count.multipliedReportingOverflow(by: d)
            if o { return nil }
            count = p
        }
        switch self {
        case .u8: return count
        case .f32: return count.multipliedReportingOverflow(by: 4).overflow ? nil : count * 4
        case .f16, .bf16: return count.multipliedReportingOverflow(by: 2).overflow ? nil : count * 2
        case .q8, .q4:
            let block = Int(CSIMD_BLOCK_SIZE)
            guard let cols = shape.last, cols % block == 0 else { return nil }
            return count / block * blockBytes!
        case .q8r16, .q4r16, .q4nr16, .q3nr16:
            guard shape.count == 2, let unit = unitBytes(cols: shape[1]) else { return nil }
            let (p, o) = ((shape[0] + 15) / 16).multipliedReportingOverflow(by: unit)
            return o ? nil : p
        }
    }
}
