#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The opcode loop behind `TorchPickle`. One instance reads one pickle.
struct PickleMachine {
    let bytes: UnsafeRawBufferPointer
    let file: String
    private var pos = 0
    private var opStart = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private var sequences: [[PickleValue]] = []
    private var dicts: [[(key: PickleValue, value: PickleValue)]] = []
    private var tensors: [PickledTensor] = []

    init(bytes: UnsafeRawBufferPointer, file: String) {
        self.bytes = bytes
        self.file = file
    }

    // MARK: - Errors and raw reads

    private func fail(_ reason: String) -> CheckpointError {
        .badPickle(file: file, offset: opStart, reason: reason)
    }

    private mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard let s = bytes.checkedSlice(pos, n) else {
            throw CheckpointError.truncated(file: file, what: "pickle opcode at byte \(opStart)")
        }
        pos += n
        return s
    }

    private mutating func u8() throws -> Int { Int(try take(1).le(UInt8.self, at: 0)!) }
    private mutating func u16() throws -> Int { Int(try take(2).le(UInt16.self, at: 0)!) }
    private mutating func u32() throws -> Int { Int(try take(4).le(UInt32.self, at: 0)!) }
    private mutating func i32() throws -> Int { Int(try take(4).le(Int32.self, at: 0)!) }
    private mutating func u64() throws -> Int {
        let v = try take(8).le(UInt64.self, at: 0)!
        guard let n = Int(exactly: v) else { throw fail("length \(v) is out of range") }
        return n
    }

    private mutating func utf8(_ n: Int) throws -> String {
        let raw = try take(n)
        guard let s = String(validating: raw, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
        return s
    }

    /// A newline-terminated ASCII line, as GLOBAL uses; short because module names are.
    private mutating func line() throws -> String {
        var chars: [UInt8] = []
        while true {
            let c = UInt8(try u8())
            if c == 0x0A { break }
            guard chars.count < 256 else { throw fail("GLOBAL name is too long") }
            chars.append(c)
        }
        return String(decoding: chars, as: UTF8.self)
    }

    // MARK: - Stack

    private mutating func push(_ v: PickleValue) throws {
        guard stack.count < TorchPickle.maxStack else { throw fail("stack exceeds \(TorchPickle.maxStack) values") }
        stack.append(v)
    }

    private mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast(), stack.count >= (marks.last ?? 0) else { throw fail("stack underflow") }
        return v
    }

    /// Pops everything above the most recent MARK.
    private mutating func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("no MARK on the stack") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    private mutating func memoize(_ index: Int) throws {
        guard let top = stack.last else { throw fail("memo store with an empty stack") }
        guard memo.count < TorchPickle.maxMemo || memo[index] != nil else {
            throw fail("memo exceeds \(TorchPickle.maxMemo) entries")
        }
        memo[index] = top
    }

    private mutating func recall(_ index: Int) throws {
        guard let v = memo[index] else { throw fail("memo key \(index) was never stored") }
        try push(v)
    }

    private mutating func makeTuple(_ items: [PickleValue]) -> PickleValue {
        sequences.append(items)
        return .tuple(sequences.count - 1)
    }

    private mutating func makeDict() -> PickleValue {
        dicts.append([])
        return .dict(dicts.count - 1)
    }

    // MARK: - Opcode loop

    /// Runs to STOP and returns the value it leaves.
    mutating func run() throws -> PickleValue {
        while true {
            opStart = pos
            let op = try u8()
            switch op {
            case 0x80: // PROTO
                let v = try u8()
                guard v >= 2 && v <= 5 else { throw fail("unsupported pickle protocol \(v)") }
            case 0x95: // FRAME: a length hint only; the frame's opcodes follow inline
                _ = try take(8)
            case 0x2E: // STOP
                guard marks.isEmpty, stack.count == 1 else { throw fail("STOP with \(stack.count) values on the stack") }
                return stack[0]
            case 0x28: // MARK
                guard marks.count < TorchPickle.maxStack else { throw fail("too many MARKs") }
                marks.append(stack.count)
            case 0x30: _ = try pop()           // POP
            case 0x31: _ = try popMark()       // POP_MARK
            case 0x7D: try push(makeDict())    // EMPTY_DICT
            case 0x5D: // EMPTY_LIST
                sequences.append([])
                try push(.list(sequences.count - 1))
            case 0x29: try push(makeTuple([])) // EMPTY_TUPLE
            case 0x71: try memoize(try u8())   // BINPUT
            case 0x72: try memoize(try u32())  // LONG_BINPUT
            case 0x94: try memoize(memo.count) // MEMOIZE
            case 0x68: try recall(try u8())    // BINGET
            case 0x6A: try recall(try u32())   // LONG_BINGET
            case 0x58: try push(.string(try utf8(try u32())))  // BINUNICODE
            case 0x8C: try push(.string(try utf8(try u8())))   // SHORT_BINUNICODE
            case 0x8D: try push(.string(try utf8(try u64())))  // BINUNICODE8
            case 0x55: // SHORT_BINSTRING: Python 2 str, bytes that are text in practice
                try push(.string(String(decoding: try take(try u8()), as: UTF8.self)))
            case 0x54: // BINSTRING
                let n = try i32()
                guard n >= 0 else { throw fail("negative BINSTRING length") }
                try push(.string(String(decoding: try take(n), as: UTF8.self)))
            case 0x43: try push(.bytes(try take(try u8()).count))   // SHORT_BINBYTES
            case 0x42: try push(.bytes(try take(try u32()).count))  // BINBYTES
            case 0x4A: try push(.int(try i32()))  // BININT
            case 0x4B: try push(.int(try u8()))   // BININT1
            case 0x4D: try push(.int(try u16()))  // BININT2
            case 0x8A: try push(.int(try long1())) // LONG1
            case 0x47: // BINFLOAT, big-endian
                let raw = try take(8).le(UInt64.self, at: 0)!
                try push(.float(Double(bitPattern: UInt64(bigEndian: raw))))
            case 0x4E: try push(.none)          // NONE
            case 0x88: try push(.bool(true))    // NEWTRUE
            case 0x89: try push(.bool(false))   // NEWFALSE
            case 0x74: try push(makeTuple(try popMark()))  // TUPLE
            case 0x85, 0x86, 0x87: // TUPLE1..3
                let n = Int(op) - 0x84
                guard stack.count - (marks.last ?? 0) >= n else { throw fail("stack underflow") }
                let items = Array(stack.suffix(n))
                stack.removeLast(n)
                try push(makeTuple(items))
            case 0x6C: // LIST
                sequences.append(try popMark())
                try push(.list(sequences.count - 1))
            case 0x64: // DICT
                let items = try popMark()
                let d = makeDict()
                try setItems(d, items)
                try push(d)
            case 0x61: // APPEND
                let v = try pop()
                try append(to: try peek(), [v])
            case 0x65: // APPENDS
                let items = try popMark()
                try append(to: try peek(), items)
            case 0x73: // SETITEM
                let v = try pop()
                let k = try pop()
                try setItems(try peek(), [k, v])
            case 0x75: // SETITEMS
                let items = try popMark()
                try setItems(try peek(), items)
            case 0x63: // GLOBAL
                let module = try line()
                let name = try line()
                try push(try global(module, name))
            case 0x93: // STACK_GLOBAL
                let name = try pop()
                let module = try pop()
                guard case let .string(m) = module, case let .string(n) = name else {
                    throw fail("STACK_GLOBAL needs two strings")
                }
                try push(try global(m, n))
            case 0x51: // BINPERSID
                try push(try persistentLoad(try pop()))
            case 0x52: // REDUCE
                let args = try pop()
                let callable = try pop()
                try push(try reduce(callable, args))
            case 0x81: // NEWOBJ: only OrderedDict is ever constructed
                let args = try pop()
                let cls = try pop()
                guard case .global(.orderedDict) = cls, case let .tuple(t) = args, sequences[t].isEmpty else {
                    throw fail("NEWOBJ of something other than OrderedDict()")
                }
                try push(makeDict())
            case 0x62: // BUILD: only the state_dict's `_metadata` attribute on an OrderedDict
                _ = try pop()
                guard case .dict = try peek() else { throw fail("BUILD on something other than an OrderedDict") }
            default:
                throw fail("unsupported opcode 0x\(String(op, radix: 16))")
            }
        }
    }

    private func peek() throws -> PickleValue {
        guard let v = stack.last, stack.count > (marks.last ?? 0) else { throw fail("stack underflow") }
        return v
    }

    /// LONG1: little-endian two's complement of up to 8 bytes (torch only writes small ints).
    private mutating func long1() throws -> Int {
        let n = try u8()
        guard n <= 8 else { throw fail("integer of \(n) bytes is too large") }
        let raw = try take(n)
        guard n > 0 else { return 0 }
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(raw[i]) << (8 * UInt64(i)) }
        if n < 8 && raw[n - 1] & 0x80 != 0 { v |= ~0 << (8 * UInt64(n)) }  // sign-extend
        return Int(Int64(bitPattern: v))
    }

    private mutating func append(to list: PickleValue, _ items: [PickleValue]) throws {
        guard case let .list(i) = list else { throw fail("APPEND to something other than a list") }
        guard sequences[i].count + items.count <= TorchPickle.maxStack else { throw fail("list is too long") }
        sequences[i].append(contentsOf: items)
    }

    private mutating func setItems(_ dict: PickleValue, _ items: [PickleValue]) throws {
        guard case let .dict(i) = dict else { throw fail("SETITEM on something other than a dict") }
        guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of values") }
        guard dicts[i].count + items.count / 2 <= TorchPickle.maxStack else { throw fail("dict is too long") }
        for j in stride(from: 0, to: items.count, by: 2) {
            dicts[i].append((items[j], items[j + 1]))
        }
    }

    private func global(_ module: String, _ name: String) throws -> PickleValue {
        guard let g = TorchGlobal(module: module, name: name) else {
            throw CheckpointError.forbiddenGlobal(file: file, module: module, name: name)
        }
        return .global(g)
    }

    // MARK: - torch semantics

    /// torch.save's persistent id: ('storage', StorageType, key, location, numel).
    private func persistentLoad(_ pid: PickleValue) throws -> PickleValue {
        guard case let .tuple(t) = pid, sequences[t].count == 5,
              case .string("storage") = sequences[t][0],
              case let .global(.storage(dtype)) = sequences[t][1],
              case let .string(key) = sequences[t][2],
              case .string = sequences[t][3],
              case let .int(elements) = sequences[t][4], elements >= 0 else {
            throw fail("persistent id is not ('storage', StorageType, key, location, numel)")
        }
        return .storage(dtype: dtype, key: key, elements: elements)
    }

    private mutating func reduce(_ callable: PickleValue, _ args: PickleValue) throws -> PickleValue {
        guard case let .global(g) = callable else { throw fail("REDUCE of something that is not a global") }
        guard case let .tuple(t) = args else { throw fail("REDUCE arguments are not a tuple") }
        let a = sequences[t]
        switch g {
        case .orderedDict:
            // OrderedDict's own pickling passes no arguments and adds items with SETITEMS.
            guard a.isEmpty else { throw fail("OrderedDict() called with arguments") }
            return makeDict()
        case .rebuildTensorV2:
            return try rebuildTensor(a)
        case .rebuildParameter:
            // _rebuild_parameter(data, requires_grad, backward_hooks): the data is the tensor.
            guard a.count == 3, case .tensor = a[0] else { throw fail("_rebuild_parameter arguments are not (tensor, bool, hooks)") }
            return a[0]
        case .rebuildFromTypeV2:
            // _rebuild_from_type_v2(func, type, args, state): a plain tensor wrapped for a subclass.
            guard a.count == 4, case let .global(f) = a[0], f == .rebuildTensorV2 || f == .rebuildParameter,
                  case .global(.tensorType) = a[1] else {
                throw fail("_rebuild_from_type_v2 arguments are not (rebuild function, tensor type, args, state)")
            }
            return try reduce(a[0], a[2])
        case .tensorType, .storage:
            throw fail("REDUCE calls a type that is not callable here")
        }
    }

    /// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]).
    private mutating func rebuildTensor(_ a: [PickleValue]) throws -> PickleValue {
        guard a.count == 6 || a.count == 7, case let .storage(dtype, key, elements) = a[0],
              case let .int(offset) = a[1], offset >= 0,
              let shape = intTuple(a[2]), let stride = intTuple(a[3]), shape.count == stride.count,
              shape.count <= TorchPickle.maxDimensions else {
            throw fail("_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, ...)")
        }
        tensors.append(PickledTensor(storageKey: key, dtype: dtype, storageElements: elements,
                                     storageOffset: offset, shape: shape, stride: stride))
        return .tensor(tensors.count - 1)
    }

    private func intTuple(_ v: PickleValue) -> [Int]? {
        guard case let .tuple(t) = v else { return nil }
        var out: [Int] = []
        for item in sequences[t] {
            guard case let .int(i) = item else { return nil }
            out.append(i)
        }
        return out
    }

    /// The final value must be a dict of name → tensor, as state_dict() produces.
    func stateDict(from top: PickleValue) throws -> [(name: String, tensor: PickledTensor)] {
        guard case let .dict(d) = top else {
            throw CheckpointError.badPickle(file: file, offset: 0, reason: "top-level object is not a state_dict (dict of tensors)")
        }
        var seen = Set<String>()
        var out: [(name: String, tensor: PickledTensor)] = []
        for (k, v) in dicts[d] {
            guard case let .string(name) = k else {
                throw CheckpointError.badPickle(file: file, offset: 0, reason: "state_dict has a key that is not a string")
            }
            guard case let .tensor(i) = v else {
                throw CheckpointError.badPickle(file: file, offset: 0, reason: "state_dict entry \(name) is not a tensor")
            }
            guard seen.insert(name).inserted else {
                throw CheckpointError.badPickle(file: file, offset: 0, reason: "state_dict names \(name) twice")
            }
            out.append((name, tensors[i]))
        }
        return out
    }
}
