import CSIMD

/// Storage types of tensors in a `.dolly` file (docs/FORMAT.md section 5).
public enum TensorType: String, Codable, Sendable, CaseIterable {
    case f32, f16, bf16, q8, q4, u8

    /// The kernels' type tag; nil for opaque bytes.
    public var csimdType: Int32? {
        switch self {
        case .f32: return Int32(CSIMD_TYPE_F32.rawValue)
        case .f16: return Int32(CSIMD_TYPE_F16.rawValue)
        case .bf16: return Int32(CSIMD_TYPE_BF16.rawValue)
        case .q8: return Int32(CSIMD_TYPE_Q8.rawValue)
        case .q4: return Int32(CSIMD_TYPE_Q4.rawValue)
        case .u8: return nil
        }
    }

    public var isBlock: Bool { self == .q8 || self == .q4 }

    /// Bits per weight, scale included.
    public var bitsPerWeight: Double {
        switch self {
        case .f32: return 32
        case .f16, .bf16: return 16
        case .q8: return 34 * 8 / 32
        case .q4: return 18 * 8 / 32
        case .u8: return 8
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
            guard let cols = shape.last, cols % 32 == 0 else { return nil }
            return count / 32 * (self == .q8 ? 34 : 18)
        }
    }
}
