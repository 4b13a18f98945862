import CDolly
import DollyKit
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// Sessions: creation, reset, cancellation and the prompt (dolly.h's session section).

@_cdecl("dolly_session_create")
public func dollySessionCreate(_ model: OpaquePointer?, _ params: UnsafePointer<dolly_model_params>?,
                               _ outSession: UnsafeMutablePointer<OpaquePointer?>?,
                               _ error: UnsafeMutablePointer<OpaquePointer?>?) -> dolly_status {
    call(error) {
        let owner = try object(model, as: ModelHandle.self, name: "model")
        let out = try required(outSession, name: "out_session")
        let settings = try SessionSettings(params?.pointee, defaults: owner)
        // The thread count goes to the session, which sizes its scratch from it and runs every
        // forward pass on it, whichever host thread calls (HOUSE.md, weakness 3).
        let session = try owner.model.network.makeSession(contextLength: settings.context ?? owner.context,
                                                          kvType: settings.kvType, threads: settings.threads)
        out.pointee = retained(SessionHandle(owner: owner, session: session))
    }
}

@_cdecl("dolly_session_free")
public func dollySessionFree(_ session: OpaquePointer?) { release(session) }

@_cdecl("dolly_session_reset")
public func dollySessionReset(_ session: OpaquePointer?, _ error: UnsafeMutablePointer<OpaquePointer?>?) -> dolly_status {
    call(error) {
        let handle = try object(session, as: SessionHandle.self, name: "session")
        try handle.exclusive {
            handle.session.reset()
            handle.hasLogits = false
        }
    }
}

@_cdecl("dolly_session_get_position")
public func dollySessionGetPosition(_ session: OpaquePointer?, _ outPosition: UnsafeMutablePointer<Int32>?,
                                    _ error: UnsafeMutablePointer<OpaquePointer?>?) -> dolly_status {
    call(error) {
        let handle = try object(session, as: SessionHandle.self, name: "session")
        let out = try required(outPosition, name: "out_position")
        out.pointee = try handle.exclusive { Int32(handle.session.position) }
    }
}

@_cdecl("dolly_session_cancel")
public func dollySessionCancel(_ session: OpaquePointer?) {
    (try? object(session, as: SessionHandle.self, name: "session"))?.cancel.set()
}

@_cdecl("dolly_prompt")
public func dollyPrompt(_ session: OpaquePointer?, _ instruction: UnsafePointer<CChar>?, _ context: UnsafePointer<CChar>?,
                        _ flags: UInt32, _ outPromptTokens: UnsafeMutablePointer<Int32>?,
                        _ error: UnsafeMutablePointer<OpaquePointer?>?) -> dolly_status {
    call(error) {
        let handle = try object(session, as: SessionHandle.self, name: "session")
        let text = try string(instruction, name: "instruction")
        let contextText = try context.map { try string($0, name: "context") }
        guard flags & ~DOLLY_PROMPT_RAW == 0 else { throw CAPIError.invalidArgument("unknown prompt flags \(flags)") }
        let raw = flags & DOLLY_PROMPT_RAW != 0
        if raw && contextText != nil { throw CAPIError.invalidArgument("a raw prompt takes no context") }
        try handle.exclusive {
            handle.request = nil
            handle.cancel.clear()
            let request = GenerationRequest(text: text, context: contextText, raw: raw)
            let tokens = try handle.owner.model.promptTokens(for: request)
            guard !tokens.isEmpty else { throw ModelError.emptyPrompt }
            let limit = handle.session.contextLength
            guard tokens.count <= limit else { throw ModelError.promptTooLong(tokens: tokens.count, limit: limit) }
            handle.request = request
            outPromptTokens?.pointee = Int32(tokens.count)
        }
    }
}
