import CDolly
import DollyKit
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// Tokenize and detokenize into the caller's buffers, and grammar constraints (dolly.h).

@_cdecl("dolly_tokenize")
public func dollyTokenize(_ model: OpaquePointer?, _ text: UnsafePointer<CChar>?, _ textLength: Int,
                          _ tokens: UnsafeMutablePointer<Int32>?, _ capacity: Int, _ outCount: UnsafeMutablePointer<Int>?,
                          _ error: UnsafeMutablePointer<OpaquePointer?>?) -> dolly_status {
    call(error) {
        let handle = try object(model, as: ModelHandle.self, name: "model")
        let count = try required(outCount, name: "out_count")
        if text == nil && textLength != 0 { throw CAPIError.nullArgument("text") }
        if tokens == nil && capacity != 0 { throw CAPIError.nullArgument("tokens") }
        let bytes = UnsafeBufferPointer(start: text.map { UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self) },
                                        count: textLength)
        guard let string = String(validating: bytes, as: UTF8.self) else { throw CAPIError.notUTF8("text") }
        let ids = handle.model.tokenizer.encode(string)
        count.pointee = ids.count
        guard ids.count <= capacity, let tokens else {
            if ids.isEmpty { return }
            throw CAPIError.bufferTooSmall(needed: ids.count, capacity: capacity, unit: "tokens")
        }
        for (i, id) in ids.enumerated() { tokens[i] = id }
    }
}

@_cdecl("dolly_detokenize")
public func dollyDetokenize(_ model: OpaquePointer?, _ tokens: UnsafePointer<Int32>?, _ count: Int,
                            _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int, _ outLength: UnsafeMutablePointer<Int>?,
                            _ error: UnsafeMutablePointer<OpaquePointer?>?) -> dolly_status {
    call(error) {
        let handle = try object(model, as: ModelHandle.self, name: "model")
        let length = try required(outLength, name: "out_length")
        if tokens == nil && count != 0 { throw CAPIError.nullArgument("tokens") }
        if buffer == nil && capacity != 0 { throw CAPIError.nullArgument("buffer") }
        let ids = Array(UnsafeBufferPointer(start: tokens, count: count))
        try checkRange(ids, handle.model)
        let bytes = Array(handle.model.tokenizer.decode(ids).utf8)
        length.pointee = bytes.count
        guard bytes.count < capacity, let buffer else {
            throw CAPIError.bufferTooSmall(needed: bytes.count + 1, capacity: capacity, unit: "bytes (NUL included)")
        }
        bytes.withUnsafeBytes { raw in
            UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress ?? UnsafeRawPointer(buffer), byteCount: bytes.count)
        }
        buffer[bytes.count] = 0
    }
}

/// Token ids must be rows of the model's embedding: [0, vocab_size).
func checkRange(_ ids: [Int32], _ model: DollyModel) throws {
    let vocabulary = model.config.vocabSize
    if let bad = ids.first(where: { $0 < 0 || Int($0) >= vocabulary }) {
        throw CAPIError.tokenOutOfRange(id: bad, vocabulary: vocabulary)
    }
}

@_cdecl("dolly_grammar_from_gbnf")
public func dollyGrammarFromGBNF(_ model: OpaquePointer?, _ gbnf: UnsafePointer<CChar>?,
                                 _ outGrammar: UnsafeMutablePointer<OpaquePointer?>?,
                                 _ error: UnsafeMutablePointer<OpaquePointer?>?) -> dolly_status {
    call(error) {
        let handle = try object(model, as: ModelHandle.self, name: "model")
        let text = try string(gbnf, name: "gbnf")
        let out = try required(outGrammar, name: "out_grammar")
        out.pointee = try grammarHandle(gbnf: text, handle)
    }
}

@_cdecl("dolly_grammar_from_json_schema")
public func dollyGrammarFromJSONSchema(_ model: OpaquePointer?, _ schema: UnsafePointer<CChar>?,
                                       _ outGrammar: UnsafeMutablePointer<OpaquePointer?>?,
                                       _ error: UnsafeMutablePointer<OpaquePointer?>?) -> dolly_status {
    call(error) {
        let handle = try object(model, as: ModelHandle.self, name: "model")
        let out = try required(outGrammar, name: "out_grammar")
        let gbnf = try schema == nil ? JSONSchemaGrammar.anyObjectGBNF : JSONSchemaGrammar.gbnf(schema: string(schema, name: "schema"))
        out.pointee = try grammarHandle(gbnf: gbnf, handle)
    }
}

/// Grammars come from the model's cache: the same text twice shares one automaton and its masks.
private func grammarHandle(gbnf: String, _ model: ModelHandle) throws -> OpaquePointer {
    retained(GrammarHandle(owner: model, constraint: try model.grammars.constraint(gbnf: gbnf)))
}

@_cdecl("dolly_grammar_free")
public func dollyGrammarFree(_ grammar: OpaquePointer?) { release(grammar) }
