#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// GPT-NeoX / GPT-2 style byte-level BPE tokenizer read from a HuggingFace tokenizer.json,
/// producing the same ids as the `tokenizers` library.
///
/// Encoding follows tokenizers' pipeline: added tokens that are matched on raw text are split
/// out first, the remaining pieces are NFC-normalized (when the file asks for it) and searched
/// for the normalized added tokens, and what is left is split by GPT-2's regex and BPE-encoded.
public final class Tokenizer: Sendable {
    public let addedTokens: [AddedToken]
    /// One past the largest id, i.e. the number of rows an embedding table needs.
    public let vocabularySize: Int

    private let bpe: BytePairEncoder
    private let cache = WordCache()
    private let bound: TokenCountBound
    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    private let normalizeNFC: Bool
    /// Bytes each id decodes to; nil for ids no token uses.
    private let bytesById: [[UInt8]?]
    private let specialIds: Set<Int32>
    private let idsByToken: [String: Int32]

    public convenience init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError.cannotRead(path: url.path, reason: errorMessage(error))
        }
        try self.init(data: data)
    }

    public init(data: Data) throws {
        let definition = try TokenizerDefinition(data: data)
        normalizeNFC = definition.normalizeNFC

        var maxId: Int32 = -1
        for id in definition.vocab.values { maxId = max(maxId, id) }
        for token in definition.addedTokens { maxId = max(maxId, token.id) }
        // Tables are indexed by id: a real vocabulary is dense, so an id far beyond the number of
        // entries (or a negative one) is a broken file, not a reason to allocate gigabytes.
        let entries = definition.vocab.count + definition.addedTokens.count
        let minId = min(definition.vocab.values.min() ?? 0, definition.addedTokens.map(\.id).min() ?? 0)
        guard minId >= 0, Int(maxId) < min(1 << 24, 4 * entries + 1024) else {
            throw TokenizerError.badTokenId(id: Int(minId < 0 ? minId : maxId), entries: entries)
        }
        vocabularySize = Int(maxId) + 1

        // Vocabulary strings are in GPT-2's byte alphabet; decode them to the bytes they stand for.
        var bytesById = [[UInt8]?](repeating: nil, count: vocabularySize)
        var byteIds = [Int32](repeating: -1, count: 256)
        for (token, id) in definition.vocab {
            if let bytes = ByteLevelAlphabet.bytes(of: token) {
                bytesById[Int(id)] = bytes
                if bytes.count == 1 { byteIds[Int(bytes[0])] = id }
            } else {
                // The ByteLevel decoder passes such tokens (e.g. "<|endoftext|>"-like text) through as UTF-8.
                bytesById[Int(id)] = Array(token.utf8)
            }
        }

        var mergePairs: [(left: Int32, right: Int32, result: Int32)] = []
        mergePairs.reserveCapacity(definition.merges.count)
        for (index, (a, b)) in definition.merges.enumerated() {
            guard let left = definition.vocab[a] else { throw TokenizerError.invalidMerge(index: index, reason: "\"\(a)\" is not in the vocabulary") }
            guard let right = definition.vocab[b] else { throw TokenizerError.invalidMerge(index: index, reason: "\"\(b)\" is not in the vocabulary") }
            guard let result = definition.vocab[a + b] else { throw TokenizerError.invalidMerge(index: index, reason: "\"\(a + b)\" is not in the vocabulary") }
            mergePairs.append((left, right, result))
        }
        bpe = BytePairEncoder(byteIds: byteIds, mergePairs: mergePairs)
        // BPE only makes vocabulary tokens (merge results and single bytes), so their lengths bound it.
        bound = TokenCountBound(tokenBytes: bytesById.compactMap { $0 }, byteIds: byteIds)

        var idsByToken = definition.vocab
        var added: [AddedToken] = []
        var special = Set<Int32>()
        var raw: [AddedTokenMatcher.Pattern] = []
        var normalized: [AddedTokenMatcher.Pattern] = []
        for spec in definition.addedTokens {
            added.append(AddedToken(id: spec.id, content: spec.content, special: spec.special))
            idsByToken[spec.content] = spec.id
            if spec.special { special.insert(spec.id) }
            // An added token takes precedence over a vocabulary entry with the same id, as in tokenizers;
            // the ByteLevel decoder maps its text through the byte alphabet when it can.
            bytesById[Int(spec.id)] = ByteLevelAlphabet.bytes(of: spec.content) ?? Array(spec.content.utf8)
            var content = Array(spec.content.utf8)
            // tokenizers matches normalized tokens against normalized text, so normalizes them too.
            if spec.normalized && definition.normalizeNFC { content = Normalization.nfc(content) }
            let pattern = AddedTokenMatcher.Pattern(bytes: content, id: spec.id, lstrip: spec.lstrip,
                                                    rstrip: spec.rstrip, singleWord: spec.singleWord)
            if spec.normalized { normalized.append(pattern) } else { raw.append(pattern) }
        }
        self.addedTokens = added
        self.specialIds = special
        self.idsByToken = idsByToken
        self.bytesById = bytesById
        rawMatcher = AddedTokenMatcher(raw)
        normalizedMatcher = AddedTokenMatcher(normalized)
    }

    // MARK: Encoding

    /// Token ids for `text`. No BOS/EOS is added (GPT-NeoX's post-processor adds none).
    public func encode(_ text: String) -> [Int32] {
        // With no budget and nothing to cancel, nothing can throw.
        (try? encode(text, atMost: .max)) ?? []
    }

    /// Token ids for `text`, for callers with a budget: throws `TokenizerError.tooManyTokens` when the
    /// text provably makes more than `limit` tokens (checked before byte-pair encoding, so refusing
    /// costs a pass over the text, not its encoding), and `TokenizerError.cancelled` soon after
    /// `isCancelled` turns true (it is asked every few hundred pieces and inside long ones).
    public func encode(_ text: String, atMost limit: Int, isCancelled: (() -> Bool)? = nil) throws -> [Int32] {
        var plan = EncodingPlan()
        var raw = Array(text.utf8)
        for segment in rawMatcher.split(raw) {
            switch segment {
            case let .token(id):
                plan.addToken(id)
            case let .text(range):
                var piece = range.count == raw.count ? raw : Array(raw[range])
                if normalizeNFC { piece = Normalization.nfc(piece) }
                plan.add(piece, split: normalizedMatcher.split(piece))
            }
        }
        raw = []
        if limit < .max {
            let bytes = plan.texts.reduce(0) { $0 + $1.count }
            let atLeast = plan.tokenCount + bound.minimumTokens(textBytes: bytes)
            if atLeast > limit { throw TokenizerError.tooManyTokens(atLeast: atLeast, limit: limit) }
        }
        plan.preTokenize()
        if limit < .max {
            var atLeast = plan.tokenCount
            for p in plan.pieces { atLeast += bound.minimumTokens(pieceBytes: p.end - p.start, kind: p.kind) }
            if atLeast > limit { throw TokenizerError.tooManyTokens(atLeast: atLeast, limit: limit) }
        }

        var ids: [Int32] = []
        ids.reserveCapacity(plan.texts.reduce(plan.tokenCount) { $0 + $1.count / 3 + 1 })
        var scratch = BytePairEncoder.Scratch()
        var done = 0
        for unit in plan.units {
            switch unit {
            case let .token(id):
                ids.append(id)
            case let .text(index, pieces):
                try plan.texts[index].withUnsafeBufferPointer { text in
                    for p in plan.pieces[pieces] {
                        done += 1
                        if done & 255 == 0, let isCancelled, isCancelled() { throw TokenizerError.cancelled }
                        try encodePiece(UnsafeBufferPointer(rebasing: text[p.start..<p.end]), into: &ids,
                                        scratch: &scratch, isCancelled: isCancelled)
                    }
                }
            }
        }
        if limit < .max && ids.count > limit { throw TokenizerError.tooManyTokens(atLeast: ids.count, limit: limit) }
        return ids
    }

    /// Byte-pair encodes one pre-tokenized piece, through the cache for short ones.
    @inline(__always)
    private func encodePiece(_ piece: UnsafeBufferPointer<UInt8>, into ids: inout [Int32], scratch: inout BytePairEncoder.Scratch,
                             isCancelled: (() -> Bool)?) throws {
        if piece.count == 1 {
            let id = bpe.byteIds[Int(piece[0])]
            if id >= 0 { ids.append(id) }
            return
        }
        let cacheable = piece.count <= WordCache.maxPieceBytes
        if cacheable && cache.append(piece, to: &ids) { return }
        let start = ids.count
        try bpe.encode(piece, into: &ids, scratch: &scratch, isCancelled: isCancelled)
        if cacheable { cache.set(piece, ids[start...]) }
    }

    // MARK: Decoding

    /// Text for `ids`. Ids no token uses are skipped; bytes that are not valid UTF-8 (e.g. a
    /// character cut between tokens) become U+FFFD, one per maximal invalid sequence, like tokenizers.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids {
            if skipSpecialTokens && specialIds.contains(id) { continue }
            bytes.append(contentsOf: tokenBytes(id))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The bytes token `id` stands for; empty for ids outside the vocabulary.
    public func tokenBytes(_ id: Int32) -> [UInt8] {
        guard id >= 0, Int(id) < bytesById.count, let bytes = bytesById[Int(id)] else { return [] }
        return bytes
    }

    /// Id of a token by its vocabulary spelling (byte-level, e.g. "Ġthe") or added-token content.
    public func id(ofToken content: String) -> Int32? {
        idsByToken[content]
    }

    /// Bytes of the longest token encoding can produce: text of n bytes (after NFC) is at least
    /// n / longestTokenBytes tokens.
    public var longestTokenBytes: Int { bound.longestToken }

    public func isSpecial(_ id: Int32) -> Bool {
        specialIds.contains(id)
    }
}
