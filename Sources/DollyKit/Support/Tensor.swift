#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Element types that appear in published checkpoints and in our own format.
public enum DType: String, Sendable, CaseIterable {
    case f32, f16, bf16, f64, i8, u8, i16, i32, i64, bool

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    public var isFloat: Bool { self == .f32 || self == .f16 || self == .bf16 || self == .f64 }
}

/// A read-only view of one tensor whose bytes live in a mapped file (row-major, contiguous).
/// The view keeps its file alive.
public struct TensorView: @unchecked Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Exactly `elementCount * dtype.size` bytes.
    public let data: UnsafeRawBufferPointer
    /// Keeps the mapping that `data` points into alive.
    public let owner: AnyObject?

    public init(name: String, dtype: DType, shape: [Int], data: UnsafeRawBufferPointer, owner: AnyObject?) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.data = data
        self.owner = owner
    }

    public var elementCount: Int { shape.reduce(1, *) }

    /// Widens a floating-point tensor to f32 (copies; meant for small tensors and tests).
    public func toFloat32() -> [Float] {
        let n = elementCount
        var out = [Float](repeating: 0, count: n)
        guard let base = data.baseAddress else { return out }
        switch dtype {
        case .f32:
            for i in 0..<n { out[i] = base.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
        case .bf16:
            for i in 0..<n {
                let bits = UInt32(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16
                out[i] = Float(bitPattern: bits)
            }
        case .f16:
            for i in 0..<n { out[i] = Float(Float16(bitPattern: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .f64:
            for i in 0..<n { out[i] = Float(base.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
        default:
            for i in 0..<n { out[i] = Float(base.load(fromByteOffset: i * dtype.size, as: UInt8.self)) }
        }
        return out
    }
}

/// Anything that serves named tensors: a pytorch_model.bin, (sharded) safetensors, our own file.
public protocol TensorSource: AnyObject {
    /// Every tensor name, in file order.
    var tensorNames: [String] { get }
    /// The named tensor, or a clear error if it is absent or malformed.
    func tensor(named name: String) throws -> TensorView
}
