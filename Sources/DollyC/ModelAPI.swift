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

// Version, errors, model loading and information (dolly.h's first sections).

@_cdecl("dolly_version")
public func dollyVersion() -> UnsafePointer<CChar> { versionText }

@_cdecl("dolly_abi_version")
public func dollyABIVersion() -> Int32 { DOLLY_ABI_VERSION }

// Static C strings, made once and never written: safe to share between threads.
nonisolated(unsafe) private let versionText = UnsafePointer(strdup(DollyVersion.string)!)

@_cdecl("dolly_error_code")
public func dollyErrorCode(_ error: OpaquePointer?) -> dolly_status {
    (try? object(error, as: ErrorHandle.self, name: "error"))?.status ?? DOLLY_ERR_INVALID_ARGUMENT
}

@_cdecl("dolly_error_message")
public func dollyErrorMessage(_ error: OpaquePointer?) -> UnsafePointer<CChar> {
    guard let handle = try? object(error, as: ErrorHandle.self, name: "error") else { return noErrorText }
    return UnsafePointer(handle.text)
}

nonisolated(unsafe) private let noErrorText = UnsafePointer(strdup("no error (NULL)")!)

@_cdecl("dolly_error_free")
public func dollyErrorFree(_ error: OpaquePointer?) { release(error) }

@_cdecl("dolly_status_name")
public func dollyStatusName(_ status: dolly_status) -> UnsafePointer<CChar> {
    statusNames[status.rawValue] ?? statusNames[UInt32.max]!
}

/// Static C strings, made once.
nonisolated(unsafe) private let statusNames: [UInt32: UnsafePointer<CChar>] = {
    let names: [(dolly_status, String)] = [
        (DOLLY_OK, "DOLLY_OK"), (DOLLY_ERR_INVALID_ARGUMENT, "DOLLY_ERR_INVALID_ARGUMENT"),
        (DOLLY_ERR_BUFFER_TOO_SMALL, "DOLLY_ERR_BUFFER_TOO_SMALL"),
        (DOLLY_ERR_TOKEN_OUT_OF_RANGE, "DOLLY_ERR_TOKEN_OUT_OF_RANGE"), (DOLLY_ERR_NOT_FOUND, "DOLLY_ERR_NOT_FOUND"),
        (DOLLY_ERR_BAD_MODEL, "DOLLY_ERR_BAD_MODEL"), (DOLLY_ERR_CONTEXT, "DOLLY_ERR_CONTEXT"),
        (DOLLY_ERR_GRAMMAR, "DOLLY_ERR_GRAMMAR"), (DOLLY_ERR_OUT_OF_MEMORY, "DOLLY_ERR_OUT_OF_MEMORY"),
        (DOLLY_ERR_BUSY, "DOLLY_ERR_BUSY"), (DOLLY_ERR_INVALID_STATE, "DOLLY_ERR_INVALID_STATE"),
        (DOLLY_ERR_INTERNAL, "DOLLY_ERR_INTERNAL"),
    ]
    var table = [UInt32.max: UnsafePointer(strdup("DOLLY_ERR_UNKNOWN")!)]
    for (status, name) in names { table[status.rawValue] = UnsafePointer(strdup(name)!) }
    return table
}()

@_cdecl("dolly_model_default_params")
public func dollyModelDefaultParams() -> dolly_model_params {
    dolly_model_params(n_threads: 0, n_context: 0, kv_type: Int32(DOLLY_KV_F16.rawValue), read_into_memory: false)
}

/// Session settings from C parameters (0 and NULL meaning "the default").
struct SessionSettings {
    static let maxThreads = 1024

    var threads: Int
    var context: Int?
    var kvType: KVCacheType

    init(_ params: dolly_model_params?, defaults: ModelHandle?) throws {
        let p = params ?? dollyModelDefaultParams()
        guard (0...Int32(Self.maxThreads)).contains(p.n_threads) else {
            throw CAPIError.invalidArgument("n_threads must be in [0, \(Self.maxThreads)] (0: the default)")
        }
        guard p.n_context >= 0 else { throw CAPIError.invalidArgument("n_context must be >= 0 (0: the default)") }
        let kinds: [Int32: KVCacheType] = [Int32(DOLLY_KV_F16.rawValue): .f16, Int32(DOLLY_KV_F32.rawValue): .f32,
                                           Int32(DOLLY_KV_Q8.rawValue): .q8]
        guard let kind = kinds[p.kv_type] else { throw CAPIError.invalidArgument("kv_type \(p.kv_type) is not a dolly_kv_type") }
        threads = p.n_threads > 0 ? Int(p.n_threads) : defaults?.threads ?? DollyModel.defaultThreads
        context = p.n_context > 0 ? Int(p.n_context) : defaults?.context
        // A session given no parameters takes the model's kv type; one given parameters, its own.
        kvType = params == nil ? defaults?.kvType ?? kind : kind
    }
}

@_cdecl("dolly_model_load")
public func dollyModelLoad(_ path: UnsafePointer<CChar>?, _ params: UnsafePointer<dolly_model_params>?,
                           _ outModel: UnsafeMutablePointer<OpaquePointer?>?,
                           _ error: UnsafeMutablePointer<OpaquePointer?>?) -> dolly_status {
    call(error) {
        let path = try string(path, name: "path")
        let out = try required(outModel, name: "out_model")
        let settings = try SessionSettings(params?.pointee, defaults: nil)
        let readIntoMemory = params?.pointee.read_into_memory ?? false
        let model = try DollyModel.load(path: path, fileMode: readIntoMemory ? .read : .map)
        let maximum = model.config.maxPositionEmbeddings
        let context = settings.context ?? min(2048, maximum)
        guard context <= maximum else { throw ModelError.contextLength(requested: context, limit: maximum) }
        out.pointee = retained(ModelHandle(model: model, threads: settings.threads, context: context,
                                           kvType: settings.kvType))
    }
}

@_cdecl("dolly_model_free")
public func dollyModelFree(_ model: OpaquePointer?) { release(model) }

@_cdecl("dolly_model_get_info")
public func dollyModelGetInfo(_ model: OpaquePointer?, _ outInfo: UnsafeMutablePointer<dolly_model_info>?,
                              _ error: UnsafeMutablePointer<OpaquePointer?>?) -> dolly_status {
    call(error) {
        let handle = try object(model, as: ModelHandle.self, name: "model")
        let out = try required(outInfo, name: "out_info")
        let m = handle.model, c = m.config
        out.pointee = dolly_model_info(
            n_vocab: Int32(c.vocabSize), n_context_max: Int32(c.maxPositionEmbeddings), n_context: Int32(handle.context),
            n_threads: Int32(handle.threads), n_embd: Int32(c.hiddenSize), n_layer: Int32(c.numHiddenLayers),
            n_head: Int32(c.numAttentionHeads), n_params: Int64(m.network.weights.parameterCount),
            weight_bytes: Int64(m.network.weights.weightBytes), eos_token: m.eosId, end_token: m.endKeyId ?? -1)
    }
}
