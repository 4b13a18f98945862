#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Compiles a JSON Schema (the subset OpenAI's structured outputs accept) to GBNF, which then
/// compiles like any grammar. Output is compact JSON (at most one blank between tokens: a small model
/// given more spends its budget on newlines and tabs, as Outlines found), numbers of bounded length, and object properties in a
/// fixed order: the `required` ones in the order `required` lists them, then the others sorted by
/// name (a parsed object's key order is not kept). Properties not listed are never
/// generated, whether or not the schema says `additionalProperties: false`.
public enum JSONSchemaGrammar {
    /// GBNF for `schema` (JSON text).
    public static func gbnf(schema text: String) throws -> String {
        guard let schema = try? JSONNode(parsing: text) else {
            throw GrammarError.invalidSchema(path: "#", message: "not valid JSON")
        }
        var compiler = Compiler(root: schema)
        let body = try compiler.expression(schema, path: "#")
        return "root ::= ws " + body + "\n" + compiler.rules.joined(separator: "\n") + "\n" + baseRules
    }

    /// The grammar of `response_format: json_object`: any JSON object.
    public static let anyObjectGBNF = "root ::= ws object\n" + baseRules

    public static func compile(schema text: String) throws -> CompiledGrammar {
        try CompiledGrammar(gbnf: gbnf(schema: text))
    }

    // Every value rule eats the whitespace after it, so a rule for a value never starts with blanks.
    static let baseRules = #"""
        ws ::= " "?
        value ::= object | array | string | number | boolean | null
        object ::= "{" ws (string ":" ws value ("," ws string ":" ws value)*)? "}" ws
        array ::= "[" ws (value ("," ws value)*)? "]" ws
        string ::= "\"" char* "\"" ws
        char ::= [^"\\\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})
        integer-part ::= "-"? ("0" | [1-9] [0-9]{0,15})
        integer ::= integer-part ws
        number ::= integer-part ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})? ws
        boolean ::= ("true" | "false") ws
        null ::= "null" ws
        """#

    /// The string formats supported, as patterns (RFC 3339). Every date generated exists: the day
    /// fits the month, and since a pattern cannot tell leap years, February stops at the 28th; year 0
    /// (which RFC 3339 allows and most parsers refuse) is left out.
    static let formats: [String: String] = {
        let year = "([0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)"
        let monthDay = "((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)"
        let date = year + "-" + monthDay
        let time = "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
        return ["date": "^\(date)$", "time": "^\(time)$", "date-time": "^\(date)T\(time)$",
                "uuid": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"]
    }()

    /// Keywords that describe rather than constrain.
    static let annotations: Set<String> = ["title", "description", "$schema", "$id", "$comment", "default",
                                           "examples", "deprecated", "readOnly", "writeOnly", "$defs", "definitions"]

    struct Compiler {
        /// The schema `$ref`s resolve in (one per tool when several schemas share a grammar).
        var root: JSONNode {
            didSet { refRules = [:] }
        }
        var rules: [String] = []
        private var refRules: [String: String] = [:]
        private var resolving: Set<String> = []
        private var counter = 0
        private var depth = 0

        init(root: JSONNode) {
            self.root = root
        }

        private mutating func newRule(_ body: String) -> String {
            counter += 1
            let name = "s\(counter)"
            rules.append("\(name) ::= \(body)")
            return name
        }

        /// A GBNF expression matching the values `schema` allows (each followed by whitespace).
        mutating func expression(_ schema: JSONNode, path: String) throws -> String {
            // Deeply nested schemas are refused rather than recursed into without bound.
            depth += 1
            defer { depth -= 1 }
            guard depth <= 64 else { throw GrammarError.invalidSchema(path: path, message: "nested deeper than 64 levels") }
            if let allow = schema.bool {
                guard allow else { throw GrammarError.invalidSchema(path: path, message: "the schema false allows nothing") }
                return "value"
            }
            guard let s = schema.object else {
                throw GrammarError.invalidSchema(path: path, message: "a schema must be an object")
            }
            let known: Set<String> = ["type", "properties", "required", "additionalProperties", "enum", "const", "items",
                                      "minItems", "maxItems", "anyOf", "oneOf", "$ref", "minLength", "maxLength",
                                      "pattern", "format"]
            for key in s.keys.sorted() where !known.contains(key) && !Self.isAnnotation(key) {
                throw GrammarError.unsupportedKeyword(path: path, keyword: key)
            }
            if let ref = s["$ref"] {
                guard let ref = ref.string else { throw GrammarError.invalidSchema(path: path, message: "$ref must be a string") }
                return try reference(ref, path: path)
            }
            if let value = s["const"] { return try literal(value, path: path + "/const") }
            if let values = s["enum"] {
                guard let values = values.array, !values.isEmpty else {
                    throw GrammarError.invalidSchema(path: path + "/enum", message: "enum must be a non-empty array")
                }
                return "(" + (try values.enumerated().map { try literal($1, path: path + "/enum/\($0)") }).joined(separator: " | ") + ")"
            }
            for key in ["anyOf", "oneOf"] {
                guard let options = s[key] else { continue }
                guard let options = options.array, !options.isEmpty else {
                    throw GrammarError.invalidSchema(path: path + "/" + key, message: "\(key) must be a non-empty array")
                }
                let alternatives = try options.enumerated().map { try expression($1, path: path + "/\(key)/\($0)") }
                return newRule(alternatives.joined(separator: " | "))
            }
            guard let type = s["type"] else { return "value" }
            if let types = type.array {
                let alternatives = try types.map { t -> String in
                    guard let t = t.string else { throw GrammarError.invalidSchema(path: path + "/type", message: "type names must be strings") }
                    return try typed(t, s, path: path)
                }
                guard !alternatives.isEmpty else { throw GrammarError.invalidSchema(path: path + "/type", message: "no type") }
                return newRule(alternatives.joined(separator: " | "))
            }
            guard let t = type.string else { throw GrammarError.invalidSchema(path: path + "/type", message: "type must be a string or an array") }
            return try typed(t, s, path: path)
        }

        static func isAnnotation(_ key: String) -> Bool { JSONSchemaGrammar.annotations.contains(key) }

        private mutating func typed(_ type: String, _ s: [String: JSONNode], path: String) throws -> String {
            switch type {
            case "object": return try object(s, path: path)
            case "array": return try array(s, path: path)
            case "string":
                let low = try count(s, "minLength", path: path) ?? 0
                let high = try count(s, "maxLength", path: path)
                if let shape = try stringShape(s, path: path) {
                    guard low == 0 && high == nil else {
                        throw GrammarError.invalidSchema(path: path, message: "minLength/maxLength with pattern or format is not supported")
                    }
                    return newRule("\"\\\"\" " + shape + " \"\\\"\" ws")
                }
                if low == 0 && high == nil { return "string" }
                if let high, high < low { throw GrammarError.invalidSchema(path: path, message: "maxLength is below minLength") }
                return newRule("\"\\\"\" char{\(low),\(high.map(String.init) ?? "")} \"\\\"\" ws")
            case "number": return "number"
            case "integer": return "integer"
            case "boolean": return "boolean"
            case "null": return "null"
            default: throw GrammarError.invalidSchema(path: path + "/type", message: "unknown type '\(type)'")
            }
        }

        /// The content of a string with a `pattern` or a `format` (between its quotes); nil without either.
        private func stringShape(_ s: [String: JSONNode], path: String) throws -> String? {
            if s["pattern"] != nil && s["format"] != nil {
                throw GrammarError.invalidSchema(path: path, message: "pattern together with format is not supported")
            }
            if let pattern = s["pattern"] {
                guard let pattern = pattern.string else {
                    throw GrammarError.invalidSchema(path: path + "/pattern", message: "must be a string")
                }
                return try PatternGrammar.gbnf(pattern, path: path + "/pattern")
            }
            guard let format = s["format"] else { return nil }
            guard let name = format.string, let pattern = JSONSchemaGrammar.formats[name] else {
                throw GrammarError.unsupportedKeyword(path: path + "/format", keyword: "format: \(format.described)")
            }
            return try PatternGrammar.gbnf(pattern, path: path + "/format")
        }

        private func count(_ s: [String: JSONNode], _ key: String, path: String) throws -> Int? {
            guard let v = s[key] else { return nil }
            guard let n = v.int, n >= 0, n <= GBNFParser.maxRepetition else {
                throw GrammarError.invalidSchema(path: path + "/" + key, message: "must be an integer in 0...\(GBNFParser.maxRepetition)")
            }
            return n
        }

        private mutating func object(_ s: [String: JSONNode], path: String) throws -> String {
            let additional = s["additionalProperties"]
            if let additional, additional.bool == nil && additional.object == nil {
                throw GrammarError.invalidSchema(path: path + "/additionalProperties", message: "must be a boolean or a schema")
            }
            guard let properties = s["properties"] else {
                if let extra = additional?.object {
                    // A map: any keys, every value matching one schema.
                    let v = try expression(.object(extra), path: path + "/additionalProperties")
                    return newRule("\"{\" ws (string \":\" ws \(v) (\",\" ws string \":\" ws \(v))*)? \"}\" ws")
                }
                return "object"
            }
            if additional?.object != nil { throw GrammarError.unsupportedKeyword(path: path, keyword: "additionalProperties") }
            guard let props = properties.object else {
                throw GrammarError.invalidSchema(path: path + "/properties", message: "must be an object")
            }
            let requiredList = s["required"]?.array?.compactMap(\.string) ?? []
            if s["required"] != nil && requiredList.count != s["required"]?.array?.count {
                throw GrammarError.invalidSchema(path: path + "/required", message: "must be an array of strings")
            }
            for name in requiredList where props[name] == nil {
                throw GrammarError.invalidSchema(path: path + "/required", message: "'\(name)' is required but not in properties")
            }
            var order: [String] = []
            for name in requiredList where !order.contains(name) { order.append(name) }
            order += props.keys.filter { !order.contains($0) }.sorted()
            let required = Set(requiredList)
            // first_k: properties k... with none written yet; rest_k: after one (so a comma first).
            // Linear in the number of properties, whichever of the optional ones appear.
            var first = "", rest = ""
            for name in order.reversed() {
                let value = try expression(props[name]!, path: path + "/properties/" + name)
                let pair = try literal(.string(name), path: path) + " \":\" ws " + value + (rest.isEmpty ? "" : " " + rest)
                if required.contains(name) {
                    (first, rest) = (newRule(pair), newRule("\",\" ws " + pair))
                } else {
                    (first, rest) = (newRule(first.isEmpty ? "(\(pair))?" : "\(pair) | \(first)"),
                                     newRule(rest.isEmpty ? "(\",\" ws \(pair))?" : "\",\" ws \(pair) | \(rest)"))
                }
            }
            return newRule("\"{\" ws " + (first.isEmpty ? "" : first + " ") + "\"}\" ws")
        }

        private mutating func array(_ s: [String: JSONNode], path: String) throws -> String {
            let item = try s["items"].map { try expression($0, path: path + "/items") } ?? "value"
            let low = try count(s, "minItems", path: path) ?? 0
            let high = try count(s, "maxItems", path: path)
            if let high, high < low { throw GrammarError.invalidSchema(path: path, message: "maxItems is below minItems") }
            if high == 0 { return newRule("\"[\" ws \"]\" ws") }
            let more = "(\",\" ws \(item)){\(max(low - 1, 0)),\(high.map { String($0 - 1) } ?? "")}"
            let items = "\(item) \(more)"
            return newRule("\"[\" ws " + (low == 0 ? "(\(items))?" : items) + " \"]\" ws")
        }

        /// The exact JSON text of `value`, as a literal followed by whitespace.
        private func literal(_ value: JSONNode, path: String) throws -> String {
            guard let text = value.text else {
                throw GrammarError.invalidSchema(path: path, message: "not a JSON value")
            }
            var out = "\""
            for c in text.unicodeScalars {
                switch c {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case _ where c.value < 0x20:
                    let hex = String(c.value, radix: 16, uppercase: true)
                    out += "\\x" + (hex.count < 2 ? "0" : "") + hex
                default: out.unicodeScalars.append(c)
                }
            }
            return out + "\" ws"
        }

        private mutating func reference(_ ref: String, path: String) throws -> String {
            if let name = refRules[ref] { return name }
            guard !resolving.contains(ref) else {
                throw GrammarError.badReference(path: path, reference: ref, message: "recursive references are not supported")
            }
            var target = root
            guard ref.hasPrefix("#") else { throw GrammarError.badReference(path: path, reference: ref, message: "only local references (#/...) are supported") }
            for part in ref.dropFirst().split(separator: "/", omittingEmptySubsequences: true) {
                let key = String(part).replacing("~1", with: "/").replacing("~0", with: "~")
                guard let object = target.object, let next = object[key] else {
                    throw GrammarError.badReference(path: path, reference: ref, message: "points nowhere")
                }
                target = next
            }
            resolving.insert(ref)
            let body = try expression(target, path: ref)
            resolving.remove(ref)
            let name = newRule(body)
            refRules[ref] = name
            return name
        }
    }
}
