#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A tensor as torch.save describes it: a view (offset, shape, strides, all in elements) into a
/// storage that lives in its own zip entry.
public struct PickledTensor: Sendable, Equatable {
    public let storageKey: String
    public let dtype: DType
    /// Elements in the storage, as recorded in the persistent id.
    public let storageElements: Int
    public let storageOffset: Int
    public let shape: [Int]
    public let stride: [Int]
}

/// Reads the state_dict pickle (data.pkl) that torch.save writes. This is a data reader, not an
/// interpreter: it knows a fixed set of opcodes and a short allow list of globals, calls nothing,
/// and bounds its stack and memo so hostile input cannot exhaust memory.
public enum TorchPickle {
    /// Limits far above what any real state_dict needs (dolly-v2-12b has under 600 tensors).
    static let maxStack = 1 << 20
    static let maxMemo = 1 << 20
    static let maxDimensions = 32

    /// Parses `bytes` and returns the top-level dictionary's (name, tensor) pairs in pickle order.
    public static func stateDict(_ bytes: UnsafeRawBufferPointer, file: String) throws -> [(name: String, tensor: PickledTensor)] {
        var machine = PickleMachine(bytes: bytes, file: file)
        let top = try machine.run()
        return try machine.stateDict(from: top)
    }
}

/// The globals a torch.save state_dict may name. Anything else is refused when it is read.
enum TorchGlobal: Equatable {
    case orderedDict
    case rebuildTensorV2
    case rebuildParameter
    case rebuildFromTypeV2
    case tensorType            // torch.Tensor / torch.nn.Parameter, only as _rebuild_from_type_v2's type
    case storage(DType)

    init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch._tensor", "_rebuild_from_type_v2"): self = .rebuildFromTypeV2
        case ("torch", "Tensor"), ("torch.nn.parameter", "Parameter"): self = .tensorType
        case ("torch", let storage):
            let dtypes: [String: DType] = [
                "BFloat16Storage": .bf16, "HalfStorage": .f16, "FloatStorage": .f32, "DoubleStorage": .f64,
                "ByteStorage": .u8, "BoolStorage": .bool, "CharStorage": .i8, "ShortStorage": .i16,
                "IntStorage": .i32, "LongStorage": .i64,
            ]
            guard let d = dtypes[storage] else { return nil }
            self = .storage(d)
        default: return nil
        }
    }
}

/// A value on the pickle stack. Containers are indices into the machine's arenas rather than
/// nested values, so nothing is recursive: no deep destructor chains, no reference cycles.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes(Int)            // only the length matters; nothing we read needs the contents
    case global(TorchGlobal)
    case tuple(Int)            // index into `sequences`
    case list(Int)             // index into `sequences`
    case dict(Int)             // index into `dicts`
    case storage(dtype: DType, key: String, elements: Int)
    case tensor(Int)           // index into `tensors`
}
