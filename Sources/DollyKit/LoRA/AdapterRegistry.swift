#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Named run-time adapters of one model, added and removed while requests run (`dolly serve`).
/// Removing one only drops the registry's reference: a request that picked it holds its own (in its
/// `BatchRequest`), so it finishes with the adapter it started with, which is freed after the last one.
public final class AdapterRegistry: @unchecked Sendable {
    private let lock = Lock()
    private var adapters: [String: LoRAAdapter] = [:]

    public init() {}

    /// Letters, digits, `.`, `_` and `-`, at most 64: it goes into model names (`base+name`) and paths.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && name.unicodeScalars.allSatisfy {
            ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "._-".unicodeScalars.contains($0)
        }
    }

    /// Loads `path` for `model` and registers it as `name` (replacing nothing: a taken name is an error).
    @discardableResult
    public func add(name: String, path: String, model: GPTNeoX) throws -> LoRAAdapter {
        guard Self.isValidName(name) else { throw LoRAError.badDelta("adapter name '\(name)': use letters, digits, '.', '_' or '-' (at most 64)") }
        guard self[name] == nil else { throw LoRAError.nameTaken(name: name) }
        let adapter = try LoRAAdapter(path: path, model: model)  // outside the lock: it reads the whole file
        try lock.withLock {
            guard adapters[name] == nil else { throw LoRAError.nameTaken(name: name) }
            adapters[name] = adapter
        }
        return adapter
    }

    /// Forgets `name`; false if there was none.
    @discardableResult
    public func remove(name: String) -> Bool { lock.withLock { adapters.removeValue(forKey: name) != nil } }

    public subscript(name: String) -> LoRAAdapter? { lock.withLock { adapters[name] } }

    /// Every adapter, by name.
    public var all: [(name: String, adapter: LoRAAdapter)] {
        lock.withLock { adapters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    }
}
