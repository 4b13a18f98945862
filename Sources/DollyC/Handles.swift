import CDolly
import DollyKit
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The objects behind the C handles. A handle is a retained Swift object (Unmanaged); `*_free`
/// releases it, and handles made from a model hold it, so the model outlives them.

/// A loaded model and the defaults of its sessions.
final class ModelHandle {
    let model: DollyModel
    let threads: Int
    let context: Int
    let kvType: KVCacheType
    /// Grammars bound to the vocabulary (its trie built at the first grammar), kept by their text.
    let grammars: GrammarCache

    init(model: DollyModel, threads: Int, context: Int, kvType: KVCacheType) {
        self.model = model
        self.threads = threads
        self.context = context
        self.kvType = kvType
        grammars = GrammarCache(tokenizer: model.tokenizer)
    }
}

/// A compiled grammar bound to one model's vocabulary.
final class GrammarHandle {
    let owner: ModelHandle
    let constraint: GrammarConstraint

    init(owner: ModelHandle, constraint: GrammarConstraint) {
        self.owner = owner
        self.constraint = constraint
    }
}

/// One sequence: a DollyKit session plus what the C calls between them remember.
final class SessionHandle {
    let owner: ModelHandle
    let session: InferenceSession
    /// Raised by dolly_session_cancel from any thread; lowered by dolly_prompt and when a generation ends.
    let cancel = StopFlag()
    /// Held for the length of every call but cancel: a second caller gets DOLLY_ERR_BUSY, not a race.
    private let busy = Lock()
    var request: GenerationRequest?
    /// Whether `session.lastLogits` belongs to the last position dolly_eval ran.
    var hasLogits = false

    init(owner: ModelHandle, session: InferenceSession) {
        self.owner = owner
        self.session = session
    }

    /// Runs `body` as the session's only caller.
    func exclusive<T>(_ body: () throws -> T) throws -> T {
        guard busy.try() else { throw CAPIError.busy }
        defer { busy.unlock() }
        return try body()
    }
}

/// An error handed to C: its status and its message as a C string owned by the object.
final class ErrorHandle {
    let status: dolly_status
    let text: UnsafeMutablePointer<CChar>

    init(status: dolly_status, message: String) {
        self.status = status
        text = strdup(message) ?? strdup("out of memory")!
    }

    deinit { free(text) }
}

// MARK: handle <-> object

func retained(_ object: AnyObject) -> OpaquePointer {
    OpaquePointer(Unmanaged.passRetained(object).toOpaque())
}

func object<T: AnyObject>(_ handle: OpaquePointer?, as: T.Type, name: String) throws -> T {
    guard let handle else { throw CAPIError.nullArgument(name) }
    // A checked cast: a session passed where a model is expected is refused, not reinterpreted.
    guard let value = Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue() as? T else {
        throw CAPIError.invalidArgument("\(name) is not a \(name) handle")
    }
    return value
}

func release(_ handle: OpaquePointer?) {
    guard let handle else { return }
    Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(handle)).release()
}

// MARK: calls

/// Runs one C call: DOLLY_OK, or the error's status with a new error object in `*error` when the
/// caller asked for one. Nothing thrown escapes into C.
func call(_ error: UnsafeMutablePointer<OpaquePointer?>?, _ body: () throws -> Void) -> dolly_status {
    do {
        try body()
        return DOLLY_OK
    } catch let thrown {
        let code = status(for: thrown)
        if let error { error.pointee = retained(ErrorHandle(status: code, message: message(for: thrown))) }
        return code
    }
}

/// A required NUL-terminated UTF-8 argument.
func string(_ pointer: UnsafePointer<CChar>?, name: String) throws -> String {
    guard let pointer else { throw CAPIError.nullArgument(name) }
    guard let text = String(validatingCString: pointer) else { throw CAPIError.notUTF8(name) }
    return text
}

/// A required out-pointer.
func required<T>(_ pointer: UnsafeMutablePointer<T>?, name: String) throws -> UnsafeMutablePointer<T> {
    guard let pointer else { throw CAPIError.nullArgument(name) }
    return pointer
}
