import Foundation
import XCTest
@testable import DollyKit

/// Damaged and hostile inputs: every one must end in a CheckpointError, never a crash or hang.
final class CheckpointHostileTests: XCTestCase {
    private func write(_ bytes: [UInt8], _ name: String, in dir: URL) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func testTruncatedBinAtManyCutPoints() throws {
        let dir = try makeTemporaryDirectory(self)
        for fixture in ["bin/pytorch_model.bin", "zip64/pytorch_model.bin"] {
            let full = try CheckpointFixtures.bytes(fixture)
            let n = full.count
            for cut in [0, 1, 4, 21, 22, 30, 100, 700, n / 2, n - 120, n - 98, n - 57, n - 23, n - 22, n - 21, n - 1] {
                let p = try write(Array(full[0..<cut]), "cut\(cut).bin", in: dir)
                assertCheckpointError(try TorchCheckpoint(path: p), p)
            }
        }
    }

    func testPickleNamingOsSystemIsRefused() throws {
        let p = CheckpointFixtures.path("bad/os_system.bin")
        let e = assertCheckpointError(try TorchCheckpoint(path: p), "unexpected global posix.system", "os_system.bin")
        XCTAssertEqual(e, .forbiddenGlobal(file: p, module: "posix", name: "system"))
    }

    func testCompressedEntryIsRefused() throws {
        let e = assertCheckpointError(try TorchCheckpoint(path: CheckpointFixtures.path("bad/compressed.bin")),
                                      "compression method 8", "zip entry archive/", "only stored")
        guard case .compressedEntry = e else { return XCTFail("wrong case \(String(describing: e))") }
    }

    func testViewOutsideStorageIsRefused() throws {
        let ckpt = try TorchCheckpoint(path: CheckpointFixtures.path("bad/view_out_of_bounds.bin"))
        assertCheckpointError(try ckpt.tensor(named: "x"), "tensor x", "outside storage 0")
    }

    func testBadCRCIsDetected() throws {
        var bytes = try CheckpointFixtures.bytes("bin/pytorch_model.bin")
        let good = try TorchCheckpoint(path: CheckpointFixtures.path("bin/pytorch_model.bin"))
        let entry = try XCTUnwrap(good.archive.entry(named: "pytorch_model/data/0"))
        bytes[entry.dataOffset + 1] ^= 0x40
        let p = try write(bytes, "pytorch_model.bin", in: try makeTemporaryDirectory(self))
        let damaged = try TorchCheckpoint(path: p)  // structure is intact; only the checksum tells
        assertCheckpointError(try damaged.verifyChecksums(), "pytorch_model/data/0", "damaged", "CRC-32")
        let e = assertCheckpointError(try damaged.archive.verifyCRC32(damaged.archive.entry(named: "pytorch_model/data/0")!))
        guard case let .crcMismatch(_, _, expected, actual) = e else { return XCTFail("wrong case") }
        XCTAssertEqual(expected, entry.crc32)
        XCTAssertNotEqual(actual, expected)
    }

    /// Overwrites single bytes of a real data.pkl: each variant must parse or be refused cleanly.
    func testMutatedPickleNeverCrashes() throws {
        let ckpt = try TorchCheckpoint(path: CheckpointFixtures.path("bin/pytorch_model.bin"))
        let original = [UInt8](try ckpt.archive.data(of: ckpt.archive.entry(named: "pytorch_model/data.pkl")!))
        var refused = 0
        for i in original.indices {
            for value: UInt8 in [0x00, 0xFF, 0x28, 0x2E, 0x71, 0x7F, original[i] ^ 1] {
                var m = original
                m[i] = value
                do {
                    _ = try m.withUnsafeBytes { try TorchPickle.stateDict($0, file: "mutated") }
                } catch is CheckpointError {
                    refused += 1
                } catch {
                    XCTFail("byte \(i) = \(value): unexpected error \(error)")
                }
            }
        }
        XCTAssertGreaterThan(refused, original.count)
        // Every prefix of the pickle is a truncation and must be refused.
        for cut in 0..<original.count {
            XCTAssertThrowsError(try original.withUnsafeBytes {
                try TorchPickle.stateDict(UnsafeRawBufferPointer(rebasing: $0[0..<cut]), file: "cut")
            }) { XCTAssertTrue($0 is CheckpointError) }
        }
    }

    /// Overwrites bytes throughout a whole .bin (zip headers, pickle, data); opening and reading
    /// every tensor must succeed or throw a CheckpointError.
    func testMutatedBinNeverCrashes() throws {
        let original = try CheckpointFixtures.bytes("zip64/pytorch_model.bin")
        let dir = try makeTemporaryDirectory(self)
        for i in stride(from: 0, to: original.count, by: 5) {
            for value: UInt8 in [0xFF, original[i] &+ 1] {
                var m = original
                m[i] = value
                let p = try write(m, "m.bin", in: dir)
                do {
                    let c = try TorchCheckpoint(path: p)
                    for name in c.tensorNames { _ = try? c.tensor(named: name) }
                } catch is CheckpointError {
                } catch {
                    XCTFail("byte \(i) = \(value): unexpected error \(error)")
                }
            }
        }
    }

    func testShardIndexProblems() throws {
        let dir = try makeTemporaryDirectory(self)
        let shard = "model-00001-of-00002.safetensors"
        try FileManager.default.copyItem(atPath: CheckpointFixtures.path("sharded/\(shard)"),
                                         toPath: dir.appendingPathComponent(shard).path)
        let index = dir.appendingPathComponent("model.safetensors.index.json")
        @discardableResult func open(_ json: String) -> CheckpointError? {
            try? Data(json.utf8).write(to: index)
            return assertCheckpointError(try Checkpoint.open(directory: dir.path), "model.safetensors.index.json")
        }
        open(#"{"weight_map": {"not.there": "\#(shard)"}}"#).map { XCTAssertTrue($0.localizedDescription.contains("not.there")) }
        open(#"{"weight_map": {"x": "../etc/passwd"}}"#).map { XCTAssertTrue($0.localizedDescription.contains("plain file name")) }
        open(#"{"weight_map": {}}"#).map { XCTAssertTrue($0.localizedDescription.contains("empty")) }
        open(#"{"metadata": {}}"#)
        open("not json")
    }
}
