import Foundation
import XCTest
@testable import DollyKit

/// Safetensors headers built by hand to hit each validation rule.
final class CheckpointSafetensorsTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws { dir = try makeTemporaryDirectory(self) }

    /// Writes length + header + data (the length may be forced to lie).
    private func file(_ header: String, data: [UInt8] = [], length: UInt64? = nil) throws -> String {
        let h = Array(header.utf8)
        var bytes = withUnsafeBytes(of: (length ?? UInt64(h.count)).littleEndian) { Array($0) }
        bytes += h + data
        let url = dir.appendingPathComponent("\(UUID().uuidString).safetensors")
        try Data(bytes).write(to: url)
        return url.path
    }

    func testHandMadeFileReads() throws {
        let p = try file(#"{"__metadata__":{"format":"pt"},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#,
                         data: [0, 0, 0x80, 0x3F, 7, 9])
        let st = try SafetensorsCheckpoint(path: p)
        XCTAssertEqual(st.tensorNames, ["a", "b"])  // data order
        XCTAssertEqual(try st.tensor(named: "a").toFloat32(), [1])
        XCTAssertEqual(bytesOf(try st.tensor(named: "b")), [7, 9])
    }

    func testTruncatedFile() throws {
        let full = try CheckpointFixtures.bytes("safetensors/model.safetensors")
        let headerEnd = 8 + Int(full[0..<8].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        for cut in [0, 4, 7, 8, 9, headerEnd - 1, headerEnd + 1, full.count - 1] {
            let url = dir.appendingPathComponent("cut\(cut).safetensors")
            try Data(full[0..<cut]).write(to: url)
            assertCheckpointError(try SafetensorsCheckpoint(path: url.path), url.lastPathComponent)
        }
    }

    func testAbsurdHeaderLength() throws {
        for length: UInt64 in [UInt64.max, 1 << 40, 100_000_001] {
            assertCheckpointError(try SafetensorsCheckpoint(path: try file("{}", length: length)), "absurd")
        }
        assertCheckpointError(try SafetensorsCheckpoint(path: try file("{}", length: 50)), "truncated")
    }

    func testInvalidEntries() throws {
        let cases: [(String, [UInt8], String)] = [
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, [0, 0, 0, 0], "outside"),
            (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, [0, 0, 0, 0], "outside"),
            (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#, [0, 0, 0, 0], "outside"),
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, [0, 0, 0, 0], "needs 8"),
            (#"{"a":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}"#, [0, 0, 0, 0], "unknown dtype F8_E4M3"),
            (#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, [0, 0, 0, 0], "invalid shape"),
            (#"{"a":{"dtype":"F64","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#, [0, 0, 0, 0], "invalid shape"),
            (#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}"#,
             [0, 0, 0, 0], "overlap"),
            (#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0]}}"#, [0, 0, 0, 0], "two values"),
            (#"{"a":{"dtype":"U8","shape":[4]}}"#, [0, 0, 0, 0], "data_offsets"),
            (#"{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}"#, [0], "expected shape"),
            (#"["a"]"#, [], "expected shape"),
            ("not json at all", [], "not valid JSON"),
        ]
        for (header, data, fragment) in cases {
            let e = assertCheckpointError(try SafetensorsCheckpoint(path: try file(header, data: data)), fragment)
            if let e, case .badSafetensors = e {} else { XCTFail("\(header): wrong error \(String(describing: e))") }
        }
    }
}
