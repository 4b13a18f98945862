/// The tokenizer's vocabulary as raw bytes, in a trie: a constraint walks it once per parser state,
/// and a byte the grammar rejects prunes every token that starts with the bytes so far. Built once
/// per tokenizer and shared (read-only) by every constraint on it.
public final class TokenVocabulary: Sendable {
    public let size: Int
    /// Per token id, its bytes (empty for ids a constraint never allows: special tokens, unused ids).
    let bytes: [[UInt8]]
    /// Trie in arrays. Node n's children are edges firstEdge[n] ..< firstEdge[n + 1]; edge e reads
    /// byte edgeByte[e] and leads to node edgeTarget[e]. The token ids spelled by the path to node n
    /// are tokenIds[firstToken[n] ..< firstToken[n + 1]]. Node 0 is the root (the empty string).
    let firstEdge: [Int32]
    let edgeByte: [UInt8]
    let edgeTarget: [Int32]
    let firstToken: [Int32]
    let tokenIds: [Int32]

    /// Every id of `tokenizer` except the special ones (`<|endoftext|>`, `### End` and Dolly's other
    /// template markers): those are never text a grammar could match.
    public convenience init(tokenizer: Tokenizer) {
        var bytes = [[UInt8]](repeating: [], count: tokenizer.vocabularySize)
        for id in 0..<tokenizer.vocabularySize where !tokenizer.isSpecial(Int32(id)) {
            bytes[id] = tokenizer.tokenBytes(Int32(id))
        }
        self.init(tokenBytes: bytes)
    }

    /// `tokenBytes[id]`: the bytes of each id; empty ones are never allowed.
    public init(tokenBytes: [[UInt8]]) {
        size = tokenBytes.count
        bytes = tokenBytes
        // Sorting the ids by their bytes lays the trie out in depth-first order in one pass: each
        // id shares with the previous one the path of their common prefix.
        let order = tokenBytes.indices.filter { !tokenBytes[$0].isEmpty }
            .sorted { tokenBytes[$0].lexicographicallyPrecedes(tokenBytes[$1]) || (tokenBytes[$0] == tokenBytes[$1] && $0 < $1) }
        var children: [[(UInt8, Int32)]] = [[]]
        var tokensAt: [[Int32]] = [[]]
        var path: [Int32] = [0]  // path[d]: the node at depth d of the previous id
        var previous: [UInt8] = []
        for id in order {
            let b = tokenBytes[id]
            var common = 0
            while common < min(b.count, previous.count) && b[common] == previous[common] { common += 1 }
            path.removeLast(path.count - common - 1)
            for d in common..<b.count {
                let n = Int32(children.count)
                children.append([])
                tokensAt.append([])
                children[Int(path[d])].append((b[d], n))
                path.append(n)
            }
            tokensAt[Int(path[b.count])].append(Int32(id))
            previous = b
        }
        var firstEdge: [Int32] = [], edgeByte: [UInt8] = [], edgeTarget: [Int32] = []
        var firstToken: [Int32] = [], tokenIds: [Int32] = []
        for n in children.indices {
            firstEdge.append(Int32(edgeByte.count))
            for (byte, target) in children[n] {
                edgeByte.append(byte)
                edgeTarget.append(target)
            }
            firstToken.append(Int32(tokenIds.count))
            tokenIds.append(contentsOf: tokensAt[n])
        }
        firstEdge.append(Int32(edgeByte.count))
        firstToken.append(Int32(tokenIds.count))
        self.firstEdge = firstEdge
        self.edgeByte = edgeByte
        self.edgeTarget = edgeTarget
        self.firstToken = firstToken
        self.tokenIds = tokenIds
    }

    /// Words of a bitset over the vocabulary.
    public var maskWords: Int { (size + 63) / 64 }
}
