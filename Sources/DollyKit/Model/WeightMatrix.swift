import CSIMD
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A weight matrix used in place from mapped bytes, described for the C kernels.
public struct WeightMatrix: @unchecked Sendable {
    public let raw: csimd_matrix
    /// Keeps the bytes `raw.data` points into alive.
    public let owner: AnyObject?

    public var rows: Int { Int(raw.rows) }

    /// Bytes the matrix occupies (interleaved types store whole groups of 16 rows).
    public var storageBytes: Int {
        let interleaved = csimd_r16_tile_bytes(raw.type) != 0
        return (interleaved ? (rows + 15) / 16 : rows) * Int(raw.row_bytes)
    }
    public var cols: Int { Int(raw.cols) }

    public init(raw: csimd_matrix, owner: AnyObject?) {
        self.raw = raw
        self.owner = owner
    }

    /// Wraps a 2-D float tensor of a checkpoint, checking its shape.
    public init(_ t: TensorView, rows: Int, cols: Int) throws {
        guard t.shape == [rows, cols] else {
            throw ModelError.badTensor(name: t.name, reason: "shape \(t.shape), expected [\(rows), \(cols)]")
        }
        let type: csimd_type
        switch t.dtype {
        case .f32: type = CSIMD_TYPE_F32
        case .f16: type = CSIMD_TYPE_F16
        case .bf16: type = CSIMD_TYPE_BF16
        default: throw ModelError.badTensor(name: t.name, reason: "dtype \(t.dtype.rawValue) is not a float weight type")
        }
        guard let base = t.data.baseAddress, t.data.count == rows * cols * t.dtype.size else {
            throw ModelError.badTensor(name: t.name, reason: "holds \(t.data.count) bytes, expected \(rows * cols * t.dtype.size)")
        }
        raw = csimd_matrix(data: base, rows: Int64(rows), cols: Int64(cols),
                           row_bytes: Int64(cols * t.dtype.size), type: Int32(type.rawValue))
        owner = t.owner
    }

    /// Row `row` widened to f32 (embedding lookup).
    public func row(_ row: Int, into out: UnsafeMutablePointer<Float>) {
        withUnsafePointer(to: raw) { _ = csimd_matrix_row_dequantize($0, Int64(row), out) }
    }
}
