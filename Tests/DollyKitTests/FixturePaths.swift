import Foundation
import XCTest

/// Where the committed fixtures live (found from this file, so tests need no bundle resources).
enum FixturePaths {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    /// A fresh temporary folder removed when the test process ends.
    static func temporaryDirectory(_ tag: String = "dolly-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(tag)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

extension XCTestCase {
    /// A new temporary directory, removed when the test ends.
    func scratchDirectory(_ tag: String = "dolly-test") throws -> URL {
        let dir = try FixturePaths.temporaryDirectory(tag)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }
}
