#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An added token as declared in tokenizer.json, with the matching flags the splitter needs.
struct AddedTokenSpec {
    var id: Int32
    var content: String
    var special: Bool
    var normalized: Bool
    var lstrip: Bool
    var rstrip: Bool
    var singleWord: Bool
}

/// The parts of a HuggingFace tokenizer.json this implementation uses, checked for support.
/// Anything we could not reproduce exactly is refused here rather than silently mis-encoded.
struct TokenizerDefinition {
    var vocab: [String: Int32]
    var merges: [(String, String)]
    var addedTokens: [AddedTokenSpec]
    var normalizeNFC: Bool

    init(data: Data) throws {
        let root: [String: JSONNode]
        do {
            guard let object = try JSONNode(parsing: data).object else {
                throw TokenizerError.wrongType(key: "(root)", expected: "an object")
            }
            root = object
        } catch let error as TokenizerError {
            throw error
        } catch {
            throw TokenizerError.malformedJSON(errorMessage(error))
        }

        guard let model = root["model"] else { throw TokenizerError.missingKey("model") }
        guard let model = model.object else {
            throw TokenizerError.wrongType(key: "model", expected: "an object")
        }
        // Older files omit model.type for BPE; anything explicitly different is another algorithm.
        if let type = model["type"] {
            guard let type = type.string else { throw TokenizerError.wrongType(key: "model.type", expected: "a string") }
            guard type == "BPE" else { throw TokenizerError.unsupportedModel(type) }
        }
        try Self.requireNullOrFalse(model, ["dropout", "continuing_subword_prefix", "end_of_word_suffix", "byte_fallback", "ignore_merges"], in: "model")

        try Self.checkPreTokenizer(root["pre_tokenizer"])
        try Self.checkDecoder(root["decoder"])
        normalizeNFC = try Self.checkNormalizer(root["normalizer"])

        guard let rawVocab = model["vocab"] else { throw TokenizerError.missingKey("model.vocab") }
        guard let vocabObject = rawVocab.object else {
            throw TokenizerError.wrongType(key: "model.vocab", expected: "an object of token → id")
        }
        var vocab = [String: Int32](minimumCapacity: vocabObject.count)
        for (token, value) in vocabObject {
            guard let id = Self.int32(value), id >= 0 else {
                throw TokenizerError.wrongType(key: "model.vocab[\"\(token)\"]", expected: "a non-negative integer id")
            }
            vocab[token] = id
        }
        self.vocab = vocab

        guard let rawMerges = model["merges"] else { throw TokenizerError.missingKey("model.merges") }
        guard let mergeList = rawMerges.array else {
            throw TokenizerError.wrongType(key: "model.merges", expected: "an array")
        }
        var merges: [(String, String)] = []
        merges.reserveCapacity(mergeList.count)
        for (index, entry) in mergeList.enumerated() {
            // Two spellings exist: "a b" (tokenizers < 0.20) and ["a", "b"] (newer files).
            if let text = entry.string {
                let parts = text.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw TokenizerError.invalidMerge(index: index, reason: "\"\(text)\" is not two tokens separated by one space")
                }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let pair = entry.array, pair.count == 2, let a = pair[0].string, let b = pair[1].string {
                merges.append((a, b))
            } else {
                throw TokenizerError.invalidMerge(index: index, reason: "expected \"a b\" or [\"a\", \"b\"]")
            }
        }
        self.merges = merges

        var added: [AddedTokenSpec] = []
        if let rawAdded = root["added_tokens"], !rawAdded.isNull {
            guard let list = rawAdded.array else {
                throw TokenizerError.wrongType(key: "added_tokens", expected: "an array")
            }
            for entry in list {
                guard let token = entry.object else {
                    throw TokenizerError.invalidAddedToken("entry is not an object")
                }
                guard let id = token["id"].flatMap(Self.int32), id >= 0 else {
                    throw TokenizerError.invalidAddedToken("missing or bad \"id\"")
                }
                guard let content = token["content"]?.string, !content.isEmpty else {
                    throw TokenizerError.invalidAddedToken("id \(id) has no content")
                }
                let special = token["special"]?.bool ?? false
                added.append(AddedTokenSpec(
                    id: id, content: content, special: special,
                    // tokenizers' default: special tokens are matched on raw text.
                    normalized: token["normalized"]?.bool ?? !special,
                    lstrip: token["lstrip"]?.bool ?? false,
                    rstrip: token["rstrip"]?.bool ?? false,
                    singleWord: token["single_word"]?.bool ?? false))
            }
        }
        addedTokens = added
    }

    private static func int32(_ value: JSONNode) -> Int32? {
        guard let n = value.int, n <= Int(Int32.max), n >= Int(Int32.min) else { return nil }
        return Int32(n)
    }

    private static func isNull(_ value: JSONNode?) -> Bool { value?.isNull ?? true }

    private static func requireNullOrFalse(_ object: [String: JSONNode], _ keys: [String], in prefix: String) throws {
        for key in keys {
            guard let value = object[key], !value.isNull else { continue }
            if value.bool == false { continue }
            throw TokenizerError.unsupportedComponent(key: "\(prefix).\(key)", value: value.described)
        }
    }

    private static func typeName(_ value: JSONNode?, key: String) throws -> String {
        guard let object = value?.object else { throw TokenizerError.wrongType(key: key, expected: "an object") }
        guard let type = object["type"]?.string else { throw TokenizerError.missingKey("\(key).type") }
        return type
    }

    /// Only GPT-2's byte-level split with its regex and no prefix space is reproduced.
    private static func checkPreTokenizer(_ value: JSONNode?) throws {
        guard !isNull(value) else {
            throw TokenizerError.unsupportedModel("BPE without a ByteLevel pre-tokenizer (not byte-level)")
        }
        let type = try typeName(value, key: "pre_tokenizer")
        guard type == "ByteLevel" else {
            throw TokenizerError.unsupportedModel("BPE with a \(type) pre-tokenizer (not byte-level)")
        }
        let object = value?.object ?? [:]
        if object["add_prefix_space"]?.bool == true {
            throw TokenizerError.unsupportedComponent(key: "pre_tokenizer.add_prefix_space", value: "true")
        }
        if object["use_regex"]?.bool == false {
            throw TokenizerError.unsupportedComponent(key: "pre_tokenizer.use_regex", value: "false")
        }
    }

    private static func checkDecoder(_ value: JSONNode?) throws {
        guard !isNull(value) else { return }
        let type = try typeName(value, key: "decoder")
        guard type == "ByteLevel" else {
            throw TokenizerError.unsupportedComponent(key: "decoder", value: type)
        }
    }

    /// Returns whether NFC is applied; other normalizers would change ids and are refused.
    private static func checkNormalizer(_ value: JSONNode?) throws -> Bool {
        guard !isNull(value) else { return false }
        let type = try typeName(value, key: "normalizer")
        guard type == "NFC" else { throw TokenizerError.unsupportedComponent(key: "normalizer", value: type) }
        return true
    }
}
