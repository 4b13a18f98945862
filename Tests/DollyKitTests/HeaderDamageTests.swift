import DollyKit
import Foundation
import XCTest

/// A damaged header reads as damage, never as a truncated file (issue 29).
final class HeaderDamageTests: XCTestCase {
    // MARK: - Header damage

    /// One flipped byte in every header field: the right message, never "truncated".
    func testFlippedByteInEachHeaderFieldReadsAsDamage() throws {
        let dir = try scratchDirectory("dolly-files")
        let good = dir.appendingPathComponent("good.dolly").path
        _ = try Converter(sourceDirectory: FixturePaths.path("tiny-bin"), recipe: .q8).convert(to: good)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        let fields: [(String, Int, String)] = [
            ("magic", 3, "not a .dolly file"), ("major", 8, "header damaged"), ("major high", 9, "header damaged"),
            ("minor", 10, "header damaged"), ("flags", 12, "header damaged"), ("metadata_offset", 16, "header damaged"),
            ("metadata_length", 25, "header damaged"), ("data_offset", 33, "header damaged"),
            ("data_length", 41, "header damaged"), ("metadata_crc32", 48, "header damaged"),
            ("header_crc32", 54, "header damaged"), ("file_length", 56, "header damaged"),
            ("file_length high", 61, "header damaged"), ("file_length top", 63, "header damaged"),
        ]
        let damaged = dir.appendingPathComponent("damaged.dolly")
        for (field, offset, fragment) in fields {
            for mask: UInt8 in [0x01, 0x40] {
                var copy = bytes
                copy[offset] ^= mask
                try copy.write(to: damaged)
                do {
                    _ = try DollyFile(path: damaged.path)
                    XCTFail("\(field): accepted")
                } catch {
                    let message = error.localizedDescription
                    XCTAssertTrue(message.contains(fragment), "\(field) ^ \(mask): \(message)")
                    XCTAssertFalse(message.contains("truncated"), "\(field) ^ \(mask): \(message)")
                }
            }
        }
        // A really truncated file still says so.
        try bytes.prefix(bytes.count - 100).write(to: damaged)
        XCTAssertThrowsError(try DollyFile(path: damaged.path)) { XCTAssertTrue($0.localizedDescription.contains("is truncated"), $0.localizedDescription) }
    }
}
