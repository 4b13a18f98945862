import Foundation
import XCTest
@testable import DollyKit

/// Checks the Swift tokenizer id for id against HuggingFace `tokenizers` on the fixture corpus.
final class TokenizerCorpusTests: XCTestCase {
    func testCorpusEncodesIdenticallyToReference() throws {
        let corpus = try TokenizerFixtures.corpus()
        let tokenizer = try TokenizerFixtures.tokenizer()
        XCTAssertGreaterThanOrEqual(corpus.strings.count, 5000)

        let start = Date()
        let encoded = corpus.strings.map { tokenizer.encode($0) }
        let elapsed = Date().timeIntervalSince(start)
        let warmStart = Date()
        for s in corpus.strings { _ = tokenizer.encode(s) }
        let warmElapsed = Date().timeIntervalSince(warmStart)

        var mismatches = 0
        for (i, (got, want)) in zip(encoded, corpus.ids).enumerated() where got != want {
            mismatches += 1
            if mismatches <= 10 {
                XCTFail("corpus[\(i)] \(debugScalars(String(corpus.strings[i].prefix(80)))): got \(got.prefix(30)) want \(want.prefix(30))")
            }
        }
        let total = corpus.strings.count
        print(String(format: "tokenizer corpus: %d/%d strings identical (%.2f%%), %d ids; encode %.3f s cold, %.3f s warm",
                     total - mismatches, total, 100 * Double(total - mismatches) / Double(total),
                     corpus.ids.reduce(0) { $0 + $1.count }, elapsed, warmElapsed))
        XCTAssertEqual(mismatches, 0)
    }

    func testCorpusDecodesToReference() throws {
        let corpus = try TokenizerFixtures.corpus()
        let tokenizer = try TokenizerFixtures.tokenizer()
        var failures = 0
        for (i, ids) in corpus.ids.enumerated() {
            let text = tokenizer.decode(ids)
            if !sameScalars(text, corpus.decoded[i]) {
                failures += 1
                if failures <= 10 { XCTFail("corpus[\(i)] decodes to \(debugScalars(text)), want \(debugScalars(corpus.decoded[i]))") }
            }
            // Round trip: the string itself, or its NFC form where normalization changed it.
            if !sameScalars(text, corpus.strings[i]) && !sameScalars(text, corpus.strings[i].precomposedStringWithCanonicalMapping) {
                failures += 1
                if failures <= 10 { XCTFail("corpus[\(i)] does not round-trip") }
            }
        }
        XCTAssertEqual(failures, 0)
    }

    func testArbitraryIdSequencesDecodeLossilyLikeReference() throws {
        let corpus = try TokenizerFixtures.corpus()
        let tokenizer = try TokenizerFixtures.tokenizer()
        XCTAssertFalse(corpus.decodeCases.isEmpty)
        for (i, c) in corpus.decodeCases.enumerated() {
            let text = tokenizer.decode(c.ids)
            XCTAssertTrue(sameScalars(text, c.text), "case \(i) \(c.ids): \(debugScalars(text)) vs \(debugScalars(c.text))")
            let skipped = tokenizer.decode(c.ids, skipSpecialTokens: true)
            XCTAssertTrue(sameScalars(skipped, c.skipSpecial), "case \(i) skipping specials: \(debugScalars(skipped)) vs \(debugScalars(c.skipSpecial))")
        }
    }

    func testStreamingPiecesConcatenateToFullDecode() throws {
        let corpus = try TokenizerFixtures.corpus()
        let tokenizer = try TokenizerFixtures.tokenizer()
        let sequences = corpus.ids + corpus.decodeCases.map(\.ids)
        var failures = 0
        for (i, ids) in sequences.enumerated() {
            for skip in [false, true] {
                var stream = StreamingDecoder(tokenizer: tokenizer, skipSpecialTokens: skip)
                var pieces: [String] = []
                for id in ids { pieces.append(stream.append(id)) }
                pieces.append(stream.flush())
                let full = tokenizer.decode(ids, skipSpecialTokens: skip)
                var ok = sameScalars(pieces.joined(), full)
                // Where the whole text is valid UTF-8, no piece may show a cut character as U+FFFD.
                if i < corpus.ids.count && !full.unicodeScalars.contains("\u{FFFD}") {
                    ok = ok && !pieces.contains { $0.unicodeScalars.contains("\u{FFFD}") }
                }
                if !ok {
                    failures += 1
                    if failures <= 10 { XCTFail("sequence \(i) (skip \(skip)): pieces \(pieces.map(debugScalars)) vs \(debugScalars(full))") }
                }
            }
        }
        XCTAssertEqual(failures, 0)
    }
}
