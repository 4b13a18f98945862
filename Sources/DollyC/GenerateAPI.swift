import CDolly
import DollyKit
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// Generation over DollyKit's one decode loop (DollyModel.generate), and logits for evaluators.

@_cdecl("dolly_sampling_default_params")
public func dollySamplingDefaultParams() -> dolly_sampling_params {
    let d = SamplingParameters.dollyDefaults
    return dolly_sampling_params(
        max_tokens: Int32(GenerationRequest(text: "").maxNewTokens), greedy: d.greedy, temperature: d.temperature,
        top_p: d.topP, top_k: Int32(d.topK), min_p: d.minP, repetition_penalty: d.repetitionPenalty,
        no_repeat_ngram_size: Int32(d.noRepeatNgramSize), frequency_penalty: d.frequencyPenalty,
        presence_penalty: d.presencePenalty, has_seed: false, seed: 0, stop_texts: nil, n_stop_texts: 0, grammar: nil)
}

/// The request's sampling controls, stop texts and constraint from C parameters (range checks are
/// DollyKit's: `generate` refuses what `SamplingParameters.outOfRange` names).
private func apply(_ p: dolly_sampling_params, to request: inout GenerationRequest, session: SessionHandle) throws {
    guard p.max_tokens >= 1 else { throw CAPIError.invalidArgument("max_tokens must be >= 1") }
    var stops: [String] = []
    if p.n_stop_texts > 0 {
        guard let texts = p.stop_texts else { throw CAPIError.nullArgument("stop_texts") }
        for i in 0..<p.n_stop_texts {
            let text = try string(texts[i], name: "stop_texts[\(i)]")
            guard !text.isEmpty else { throw CAPIError.invalidArgument("stop_texts[\(i)] is empty") }
            stops.append(text)
        }
    }
    var constraint: GrammarConstraint?
    if let grammar = p.grammar {
        let handle = try object(grammar, as: GrammarHandle.self, name: "grammar")
        guard handle.owner.model === session.owner.model else { throw CAPIError.foreignGrammar }
        constraint = handle.constraint
    }
    request.maxNewTokens = Int(p.max_tokens)
    request.stopTexts = stops
    request.sampling = SamplingParameters(
        greedy: p.greedy, temperature: p.temperature, topP: p.top_p, topK: Int(p.top_k), minP: p.min_p,
        repetitionPenalty: p.repetition_penalty, noRepeatNgramSize: Int(p.no_repeat_ngram_size),
        frequencyPenalty: p.frequency_penalty, presencePenalty: p.presence_penalty,
        seed: p.has_seed ? p.seed : nil, constraint: constraint)
}

private func code(_ reason: StopReason) -> dolly_stop_reason {
    switch reason {
    case .stopToken: return DOLLY_STOP_TOKEN
    case .stopText: return DOLLY_STOP_TEXT
    case .maxTokens: return DOLLY_STOP_MAX_TOKENS
    case .contextFull: return DOLLY_STOP_CONTEXT_FULL
    case .cancelled: return DOLLY_STOP_CANCELLED
    case .noAllowedToken: return DOLLY_STOP_NO_ALLOWED_TOKEN
    }
}

@_cdecl("dolly_generate")
public func dollyGenerate(_ session: OpaquePointer?, _ sampling: UnsafePointer<dolly_sampling_params>?,
                          _ callback: dolly_text_callback?, _ userData: UnsafeMutableRawPointer?,
                          _ outResult: UnsafeMutablePointer<dolly_generate_result>?,
                          _ error: UnsafeMutablePointer<OpaquePointer?>?) -> dolly_status {
    call(error) {
        let handle = try object(session, as: SessionHandle.self, name: "session")
        try handle.exclusive {
            defer { handle.cancel.clear() }
            guard var request = handle.request else { throw CAPIError.noPrompt }
            try apply(sampling?.pointee ?? dollySamplingDefaultParams(), to: &request, session: handle)
            handle.hasLogits = false
            let cancel = handle.cancel
            if cancel.isSet {  // cancelled between dolly_prompt and now: not even the prompt runs
                outResult?.pointee = dolly_generate_result(stop_reason: Int32(DOLLY_STOP_CANCELLED.rawValue),
                                                           n_prompt_tokens: 0, n_generated_tokens: 0,
                                                           prompt_seconds: 0, generation_seconds: 0)
                return
            }
            let result = try handle.owner.model.generate(request, session: handle.session,
                                                         isCancelled: { cancel.isSet }) { piece in
                guard let callback else { return true }
                let length = piece.utf8.count  // the true length, should the text hold a NUL
                return piece.withCString { callback($0, length, userData) }
            }
            outResult?.pointee = dolly_generate_result(
                stop_reason: Int32(code(result.stopReason).rawValue), n_prompt_tokens: Int32(result.promptTokens),
                n_generated_tokens: Int32(result.tokens.count), prompt_seconds: result.promptSeconds,
                generation_seconds: result.generationSeconds)
        }
    }
}

@_cdecl("dolly_eval")
public func dollyEval(_ session: OpaquePointer?, _ tokens: UnsafePointer<Int32>?, _ count: Int,
                      _ error: UnsafeMutablePointer<OpaquePointer?>?) -> dolly_status {
    call(error) {
        let handle = try object(session, as: SessionHandle.self, name: "session")
        guard let tokens else { throw CAPIError.nullArgument("tokens") }
        guard count > 0 else { throw CAPIError.invalidArgument("count must be > 0") }
        let ids = Array(UnsafeBufferPointer(start: tokens, count: count))
        try checkRange(ids, handle.owner.model)
        try handle.exclusive {
            handle.hasLogits = false
            try handle.session.evaluate(ids)
            handle.hasLogits = true
        }
    }
}

@_cdecl("dolly_get_logits")
public func dollyGetLogits(_ session: OpaquePointer?, _ logits: UnsafeMutablePointer<Float>?, _ capacity: Int,
                           _ outCount: UnsafeMutablePointer<Int>?,
                           _ error: UnsafeMutablePointer<OpaquePointer?>?) -> dolly_status {
    call(error) {
        let handle = try object(session, as: SessionHandle.self, name: "session")
        try handle.exclusive {
            guard handle.hasLogits else { throw CAPIError.noLogits }
            let row = handle.session.lastLogits
            outCount?.pointee = row.count
            guard row.count <= capacity, let logits else {
                throw CAPIError.bufferTooSmall(needed: row.count, capacity: capacity, unit: "floats")
            }
            logits.update(from: row.baseAddress!, count: row.count)
        }
    }
}
