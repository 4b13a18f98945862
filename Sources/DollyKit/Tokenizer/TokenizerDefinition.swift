import Foundation

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
        let root: [String: Any]
        do {
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw TokenizerError.wrongType(key: "(root)", expected: "an object")
            }
            root = object
        } catch let error as TokenizerError {
            throw error
        } catch {
            throw TokenizerError.malformedJSON(error.localizedDescription)
        }

        guard let model = root["model"] else { throw TokenizerError.missingKey("model") }
        guard let model = model as? [String: Any] else {
            throw TokenizerError.wrongType(key: "model", expected: "an object")
        }
        // Older files omit model.type for BPE; anything explicitly different is another algorithm.
        if let type = model["type"] {
            guard let type = type as? String else { throw TokenizerError.wrongType(key: "model.type", expected: "a string") }
            guard type == "BPE" else { throw TokenizerError.unsupportedModel(type) }
        }
        try Self.requireNullOrFalse(model, ["dropout", "continuing_subword_prefix", "end_of_word_suffix", "byte_fallback", "ignore_merges"], in: "model")

        try Self.checkPreTokenizer(root["pre_tokenizer"])
        try Self.checkDecoder(root["decoder"])
        normalizeNFC = try Self.checkNormalizer(root["normalizer"])

        guard let rawVocab = model["vocab"] else { throw TokenizerError.missingKey("model.vocab") }
        guard let vocabObject = rawVocab as? [String: Any] else {
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
        guard let mergeList = rawMerges as? [Any] else {
            throw TokenizerError.wrongType(key: "model.merges", expected: "an array")
        }
        var merges: [(String, String)] = []
        merges.reserveCapacity(mergeList.count)
        for (index, entry) in mergeList.enumerated() {
            // Two spellings exist: "a b" (tokenizers < 0.20) and ["a", "b"] (newer files).
            if let text = entry as? String {
                let parts = text.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw TokenizerError.invalidMerge(index: index, reason: "\"\(text)\" is not two tokens separated by one space")
                }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let pair = entry as? [Any], pair.count == 2, let a = pair[0] as? String, let b = pair[1] as? String {
                merges.append((a, b))
            } else {
                throw TokenizerError.invalidMerge(index: index, reason: "expected \"a b\" or [\"a\", \"b\"]")
            }
        }
        self.merges = merges

        var added: [AddedTokenSpec] = []
        if let rawAdded = root["added_tokens"], !(rawAdded is NSNull) {
            guard let list = rawAdded as? [Any] else {
                throw TokenizerError.wrongType(key: "added_tokens", expected: "an array")
            }
            for entry in list {
                guard let token = entry as? [String: Any] else {
                    throw TokenizerError.invalidAddedToken("entry is not an object")
                }
                guard let id = token["id"].flatMap(Self.int32), id >= 0 else {
                    throw TokenizerError.invalidAddedToken("missing or bad \"id\"")
                }
                guard let content = token["content"] as? String, !content.isEmpty else {
                    throw TokenizerError.invalidAddedToken("id \(id) has no content")
                }
                let special = (token["special"] as? Bool) ?? false
                added.append(AddedTokenSpec(
                    id: id, content: content, special: special,
                    // tokenizers' default: special tokens are matched on raw text.
                    normalized: (token["normalized"] as? Bool) ?? !special,
                    lstrip: (token["lstrip"] as? Bool) ?? false,
                    rstrip: (token["rstrip"] as? Bool) ?? false,
                    singleWord: (token["single_word"] as? Bool) ?? false))
            }
        }
        addedTokens = added
    }

    private static func int32(_ value: Any) -> Int32? {
        // (No `is Bool` test: Foundation bridges JSON 0 and 1 to Bool as well.)
        guard let n = value as? Int, n <= Int(Int32.max), n >= Int(Int32.min) else { return nil }
        return Int32(n)
    }

    private static func isNull(_ value: Any?) -> Bool { value == nil || value is NSNull }

    private static func requireNullOrFalse(_ object: [String: Any], _ keys: [String], in prefix: String) throws {
        for key in keys {
            guard let value = object[key], !(value is NSNull) else { continue }
            if let flag = value as? Bool, flag == false { continue }
            throw TokenizerError.unsupportedComponent(key: "\(prefix).\(key)", value: "\(value)")
        }
    }

    private static func typeName(_ value: Any?, key: String) throws -> String {
        guard let object = value as? [String: Any] else { throw TokenizerError.wrongType(key: key, expected: "an object") }
        guard let type = object["type"] as? String else { throw TokenizerError.missingKey("\(key).type") }
        return type
    }

    /// Only GPT-2's byte-level split with its regex and no prefix space is reproduced.
    private static func checkPreTokenizer(_ value: Any?) throws {
        guard !isNull(value) else {
            throw TokenizerError.unsupportedModel("BPE without a ByteLevel pre-tokenizer (not byte-level)")
        }
        let type = try typeName(value, key: "pre_tokenizer")
        guard type == "ByteLevel" else {
            throw TokenizerError.unsupportedModel("BPE with a \(type) pre-tokenizer (not byte-level)")
        }
        let object = value as! [String: Any]
        if let prefix = object["add_prefix_space"] as? Bool, prefix {
            throw TokenizerError.unsupportedComponent(key: "pre_tokenizer.add_prefix_space", value: "true")
        }
        if let regex = object["use_regex"] as? Bool, !regex {
            throw TokenizerError.unsupportedComponent(key: "pre_tokenizer.use_regex", value: "false")
        }
    }

    private static func checkDecoder(_ value: Any?) throws {
        guard !isNull(value) else { return }
        let type = try typeName(value, key: "decoder")
        guard type == "ByteLevel" else {
            throw TokenizerError.unsupportedComponent(key: "decoder", value: type)
        }
    }

    /// Returns whether NFC is applied; other normalizers would change ids and are refused.
    private static func checkNormalizer(_ value: Any?) throws -> Bool {
        guard !isNull(value) else { return false }
        let type = try typeName(value, key: "normalizer")
        guard type == "NFC" else { throw TokenizerError.unsupportedComponent(key: "normalizer", value: type) }
        return true
    }
}
