import DollyKit
import Foundation
import XCTest

/// Issue 29, in the library: outputs never clobber inputs or foreign files, nothing partial is ever
/// visible, stale temporaries of killed writers are removed (and nothing else).
final class FileSafetyTests: XCTestCase {
    /// A copy of tiny-bin (a checkpoint folder we may point outputs at).
    func checkpointCopy(in dir: URL) throws -> URL {
        let src = dir.appendingPathComponent("tiny-bin")
        try FileManager.default.copyItem(atPath: FixturePaths.path("tiny-bin"), toPath: src.path)
        return src
    }

    func digest(_ folder: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            out[name] = try Data(contentsOf: folder.appendingPathComponent(name))
        }
        return out
    }

    func assertThrows(_ body: @autoclosure () throws -> Any, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try body()
            XCTFail("expected an error mentioning \(fragment)", file: file, line: line)
        } catch {
            XCTAssertTrue(error.localizedDescription.contains(fragment), error.localizedDescription, file: file, line: line)
        }
    }

    // MARK: - Outputs never clobber inputs

    func testConverterRefusesItsInputsTheirFolderAndForeignFiles() throws {
        let dir = try scratchDirectory("dolly-files")
        let src = try checkpointCopy(in: dir)
        let before = try digest(src)
        let converter = Converter(sourceDirectory: src.path, recipe: .q8)
        let bin = src.appendingPathComponent("pytorch_model.bin")
        assertThrows(try converter.convert(to: bin.path), "it is the input")
        assertThrows(try converter.convert(to: src.appendingPathComponent("model.dolly").path), "inside the input folder")
        // Through a symbolic link, and a hard link outside the folder.
        let link = dir.appendingPathComponent("link.dolly")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: bin.path)
        assertThrows(try converter.convert(to: link.path), "it is the input")
        let hard = dir.appendingPathComponent("hard.dolly")
        try FileManager.default.linkItem(atPath: bin.path, toPath: hard.path)
        assertThrows(try converter.convert(to: hard.path), "it is the input")
        // A foreign file: refused, then replaced with force.
        let notes = dir.appendingPathComponent("notes.txt")
        try Data("my notes\n".utf8).write(to: notes)
        assertThrows(try converter.convert(to: notes.path), "is not a .dolly file (--force replaces it)")
        XCTAssertEqual(try String(contentsOf: notes, encoding: .utf8), "my notes\n")
        var forced = converter
        forced.force = true
        XCTAssertNoThrow(try forced.convert(to: notes.path))
        XCTAssertTrue(DollyFile.hasMagic(path: notes.path))
        // Force never reaches an input.
        assertThrows(try forced.convert(to: hard.path), "it is the input")
        XCTAssertEqual(try digest(src), before, "the checkpoint is byte for byte what it was")
        // An existing .dolly (and an empty file) are replaced as before.
        XCTAssertNoThrow(try converter.convert(to: notes.path))
        let empty = dir.appendingPathComponent("empty.dolly")
        XCTAssertTrue(FileManager.default.createFile(atPath: empty.path, contents: nil))
        XCTAssertNoThrow(try converter.convert(to: empty.path))
    }

    func testImportanceMatrixIsNotWrittenOverItsInputs() throws {
        let dir = try scratchDirectory("dolly-files")
        let text = dir.appendingPathComponent("calibration.txt")
        try Data("calibration text".utf8).write(to: text)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: FixturePaths.path("imatrix_reference.json")))
        XCTAssertThrowsError(try OutputGuard.check(output: text.path, inputs: [FixturePaths.path("tiny-bin"), text.path],
                                                   magic: ImportanceMatrix.fileMagic, kind: "an importance matrix file"))
        XCTAssertThrowsError(try OutputGuard.check(output: FixturePaths.path("imatrix_reference.json"), inputs: [],
                                                   magic: ImportanceMatrix.fileMagic, kind: "an importance matrix file")) { error in
            XCTAssertTrue(error.localizedDescription.contains("is not an importance matrix file"), error.localizedDescription)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: FixturePaths.path("imatrix_reference.json"))), bytes)
        XCTAssertThrowsError(try OutputGuard.check(output: "/dev/null", inputs: [], magic: [1], kind: "x", force: true))
    }

    // MARK: - Nothing partial is visible

    func testUnfinishedOutputIsInvisibleAndAbandonedLeavesNothing() throws {
        for named in [false, true] {
            let dir = try scratchDirectory("dolly-files")
            if named { setenv("DOLLY_NO_TMPFILE", "1", 1) } else { unsetenv("DOLLY_NO_TMPFILE") }
            defer { unsetenv("DOLLY_NO_TMPFILE") }
            let out = dir.appendingPathComponent("out.dolly").path
            let w = try AtomicFileWriter(finalPath: out)
            try w.write([UInt8](repeating: 7, count: 1000))
            let during = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            XCTAssertEqual(during, named ? [".out.dolly.tmp-\(getpid())"] : [], "named: \(named)")
            w.abandon()
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "named: \(named)")
            // Committed over an existing file: replaced whole, no temporary left.
            try Data("old".utf8).write(to: URL(fileURLWithPath: out))
            let w2 = try AtomicFileWriter(finalPath: out)
            try w2.write([1, 2, 3, 4])
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), Data("old".utf8))
            try w2.commit()
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), Data([1, 2, 3, 4]))
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["out.dolly"])
        }
    }

    func testStaleTemporariesOfDeadWritersAreRemovedAndNothingElse() throws {
        let dir = try scratchDirectory("dolly-files")
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let dead = gone.processIdentifier
        func put(_ name: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: dir.appendingPathComponent(name)) }
        try put(".m.dolly.tmp-\(dead)", Array("DOLLYFMT".utf8) + [1, 2, 3])    // a killed conversion's
        try put(".m.imatrix.tmp-\(dead)", [])                                     // killed before its first byte
        try put(".notes.tmp-\(dead)", Array("user data".utf8))                   // not ours: kept
        try put(".m.dolly.tmp-\(getpid())", Array("DOLLYFMT".utf8))             // a live writer's: kept
        try put("m.dolly.tmp-\(dead)", Array("DOLLYFMT".utf8))                   // not a dot-file: kept
        let removed = StaleTemporaries.remove(in: dir.path)
        XCTAssertEqual(Set(removed.map { ($0.path as NSString).lastPathComponent }), [".m.dolly.tmp-\(dead)", ".m.imatrix.tmp-\(dead)"])
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)),
                       [".notes.tmp-\(dead)", ".m.dolly.tmp-\(getpid())", "m.dolly.tmp-\(dead)"])
    }

}
