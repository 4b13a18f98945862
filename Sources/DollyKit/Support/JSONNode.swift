#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Any JSON value, read with JSONDecoder: what DollyKit used JSONSerialization for (schemas, tool
/// parameters, tokenizer.json), without Foundation; the server's request fields that take any JSON
/// (`json_schema`, a tool's `parameters`) too. Types are JSON's own: 1 is not `true` (which
/// JSONSerialization's NSNumber let pass). Objects are dictionaries, so key order is not kept
/// (JSONSerialization kept none either): whoever needs an order sorts.
package enum JSONNode: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number written without fraction or exponent that fits 64 bits.
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONNode])
    case object([String: JSONNode])

    /// Parses `data` (any JSON value at the top, as JSONSerialization's .fragmentsAllowed).
    package init(parsing data: Data) throws {
        self = try JSONDecoder().decode(JSONNode.self, from: data)
    }

    package init(parsing text: String) throws {
        try self.init(parsing: Data(text.utf8))
    }

    package var object: [String: JSONNode]? {
        if case let .object(o) = self { return o }
        return nil
    }

    var array: [JSONNode]? {
        if case let .array(a) = self { return a }
        return nil
    }

    var string: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    var bool: Bool? {
        if case let .bool(b) = self { return b }
        return nil
    }

    var isNull: Bool { self == .null }

    /// An integer value: an integral number (2.0 too, as NSNumber's `as? Int` allowed), else nil.
    var int: Int? {
        switch self {
        case let .int(i): return Int(exactly: i)
        case let .double(d): return Int(exactly: d)
        default: return nil
        }
    }

    /// Compact JSON text, keys sorted, slashes not escaped (what JSONSerialization wrote with
    /// [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes]); nil for a non-finite number.
    package var text: String? { text(escapingSlashes: false) }

    /// Compact JSON text, keys sorted; "/" as "\/" if `escapingSlashes` (JSONSerialization's default).
    func text(escapingSlashes: Bool) -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = escapingSlashes ? [.sortedKeys] : [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).flatMap { String(data: $0, encoding: .utf8) }
    }

    /// How the value reads in a message: a string as itself, anything else as its JSON text.
    var described: String {
        if case let .string(s) = self { return s }
        return text ?? "\(self)"
    }
}

extension JSONNode: Codable {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    // Each failed attempt costs a thrown DecodingError, so the common cases go first: strings, then
    // integers, and whole objects of integers and arrays of strings in one decode (a tokenizer's
    // vocabulary and merges: 50,000 values each, parsed in half the time this way).
    package init(from decoder: Decoder) throws {
        if let single = try? decoder.singleValueContainer() {
            if single.decodeNil() { self = .null; return }
            if let s = try? single.decode(String.self) { self = .string(s); return }
            if let i = try? single.decode(Int64.self) { self = .int(i); return }
            if let d = try? single.decode(Double.self) { self = .double(d); return }
            if let b = try? single.decode(Bool.self) { self = .bool(b); return }
            if let ids = try? single.decode([String: Int64].self) { self = .object(ids.mapValues(JSONNode.int)); return }
            if let texts = try? single.decode([String].self) { self = .array(texts.map(JSONNode.string)); return }
        }
        if var list = try? decoder.unkeyedContainer() {
            var items: [JSONNode] = []
            if let n = list.count { items.reserveCapacity(n) }
            while !list.isAtEnd { items.append(try list.decode(JSONNode.self)) }
            self = .array(items)
            return
        }
        let container = try decoder.container(keyedBy: Key.self)
        var members: [String: JSONNode] = [:]
        members.reserveCapacity(container.allKeys.count)
        for key in container.allKeys { members[key.stringValue] = try container.decode(JSONNode.self, forKey: key) }
        self = .object(members)
    }

    package func encode(to encoder: Encoder) throws {
        switch self {
        case let .array(items):
            var list = encoder.unkeyedContainer()
            for item in items { try list.encode(item) }
        case let .object(members):
            var container = encoder.container(keyedBy: Key.self)
            for (key, value) in members { try container.encode(value, forKey: Key(stringValue: key)) }
        default:
            var single = encoder.singleValueContainer()
            switch self {
            case .null: try single.encodeNil()
            case let .bool(b): try single.encode(b)
            case let .int(i): try single.encode(i)
            case let .double(d): try single.encode(d)
            case let .string(s): try single.encode(s)
            case .array, .object: break
            }
        }
    }
}
