import DollyKit
import Foundation
import XCTest

/// A model read into memory (`serve`'s default) outlives whatever happens to its file (issue 29).
final class InMemoryModelTests: XCTestCase {
    // MARK: - A model copied into memory outlives its file

    func testModelReadIntoMemorySurvivesTruncationAndRewrite() throws {
        let dir = try scratchDirectory("dolly-files")
        let path = dir.appendingPathComponent("m.dolly").path
        _ = try Converter(sourceDirectory: FixturePaths.path("tiny-bin"), recipe: .q8).convert(to: path)
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let model = try DollyModel.load(path: path, fileMode: .read)
        let prompt = ReferenceModelTests.references["parallel"]!.prompts[0].input_ids
        func greedy() throws -> [Int32] {
            let session = try model.network.makeSession(contextLength: 64)
            return try TokenGenerator(session: session).generate(prompt: prompt, maxNewTokens: 8, sampling: .greedyDecoding,
                                                                 stopTokens: []) { _ in true }.tokens
        }
        let before = try greedy()
        XCTAssertEqual(truncate(path, 0), 0)           // what `cp` does first
        XCTAssertEqual(try greedy(), before)
        try Data(repeating: 0x5A, count: original.count).write(to: URL(fileURLWithPath: path))  // rewritten in place
        XCTAssertEqual(try greedy(), before)
        // Read mode's pages are the process's own: verify must not release (zero) them.
        try original.write(to: URL(fileURLWithPath: path))
        let file = try DollyFile(path: path, mode: .read)
        XCTAssertNoThrow(try file.verify())
        XCTAssertNoThrow(try file.verify())
    }
}
