/// Byte strings with token ids, as a trie in flat arrays: a constraint walks it from a parser state,
/// and a byte the grammar rejects prunes every entry that starts with the bytes so far.
/// Node n's children are edges firstEdge[n] ..< firstEdge[n + 1]; edge e reads byte edgeByte[e] and
/// leads to node edgeTarget[e]. The ids spelled by the path to node n are
/// tokenIds[firstToken[n] ..< firstToken[n + 1]]. Node 0 is the root (the empty string).
struct ByteTrie: Sendable {
    let firstEdge: [Int32]
    let edgeByte: [UInt8]
    let edgeTarget: [Int32]
    let firstToken: [Int32]
    let tokenIds: [Int32]

    /// `entries`: (bytes, id) pairs; empty byte strings are left out.
    init<Bytes: RandomAccessCollection>(entries: [(bytes: Bytes, id: Int32)]) where Bytes.Element == UInt8, Bytes.Index == Int {
        // Sorting by bytes lays the trie out in depth-first order in one pass: each entry shares
        // with the previous one the path of their common prefix.
        let order = entries.indices.filter { !entries[$0].bytes.isEmpty }.sorted { a, b in
            let (x, y) = (entries[a], entries[b])
            return x.bytes.lexicographicallyPrecedes(y.bytes) || (x.bytes.elementsEqual(y.bytes) && x.id < y.id)
        }
        var children: [[(UInt8, Int32)]] = [[]]
        var idsAt: [[Int32]] = [[]]
        var path: [Int32] = [0]  // path[d]: the node at depth d of the previous entry
        var previous: Bytes?
        for index in order {
            let b = entries[index].bytes
            var common = 0
            if let previous {
                var (i, j) = (b.startIndex, previous.startIndex)
                while i < b.endIndex && j < previous.endIndex && b[i] == previous[j] {
                    common += 1
                    i += 1
                    j += 1
                }
            }
            path.removeLast(path.count - common - 1)
            for d in common..<b.count {
                let n = Int32(children.count)
                children.append([])
                idsAt.append([])
                children[Int(path[d])].append((b[b.startIndex + d], n))
                path.append(n)
            }
            idsAt[Int(path[b.count])].append(entries[index].id)
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
            tokenIds.append(contentsOf: idsAt[n])
        }
        firstEdge.append(Int32(edgeByte.count))
        firstToken.append(Int32(tokenIds.count))
        self.firstEdge = firstEdge
        self.edgeByte = edgeByte
        self.edgeTarget = edgeTarget
        self.firstToken = firstToken
        self.tokenIds = tokenIds
    }

    var isEmpty: Bool { edgeByte.isEmpty }

    /// The longest token spelling a prefix of `bytes` (the lowest id among equal spellings) and its length.
    func longestToken<C: Collection>(prefixOf bytes: C) -> (id: Int32, length: Int)? where C.Element == UInt8 {
        var node = 0, depth = 0
        var best: (id: Int32, length: Int)?
        for b in bytes {
            var next = -1
            for e in Int(firstEdge[node])..<Int(firstEdge[node + 1]) where edgeByte[e] == b {
                next = Int(edgeTarget[e])
                break
            }
            guard next >= 0 else { break }
            node = next
            depth += 1
            let first = Int(firstToken[node]), end = Int(firstToken[node + 1])
            if first < end { best = (tokenIds[first..<end].min()!, depth) }
        }
        return best
    }
}
