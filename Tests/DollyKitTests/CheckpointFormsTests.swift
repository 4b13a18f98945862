import Foundation
import XCTest
@testable import DollyKit

/// Reading the sample state_dict in every form: values, dtypes, shapes, layout checks, and that
/// all forms give bit-identical tensors.
final class CheckpointFormsTests: XCTestCase {
    func testBinValuesAndDtypes() throws {
        let ckpt = try TorchCheckpoint(path: CheckpointFixtures.path("bin/pytorch_model.bin"))
        XCTAssertEqual(ckpt.prefix, "pytorch_model")
        XCTAssertEqual(ckpt.tensorNames, CheckpointFixtures.commonNames + ["extra.transposed", "extra.shared_a", "extra.shared_b"])

        let embed = try ckpt.tensor(named: "gpt_neox.embed_in.weight")
        XCTAssertEqual(embed.dtype, .bf16)
        XCTAssertEqual(embed.shape, [6, 4])
        XCTAssertEqual(embed.toFloat32(), (0..<24).map { Float($0) * 0.25 - 3 })

        let qkv = try ckpt.tensor(named: "gpt_neox.layers.0.attention.query_key_value.weight")
        XCTAssertEqual(qkv.dtype, .f16)
        XCTAssertEqual(qkv.shape, [3, 4])
        XCTAssertEqual(qkv.toFloat32(), (0..<12).map { Float($0) * 0.5 - 2 })

        let bias = try ckpt.tensor(named: "gpt_neox.layers.0.attention.dense.bias")
        XCTAssertEqual(bias.dtype, .f32)
        XCTAssertEqual(bias.toFloat32(), [0.1, -0.2, 0.3, 1e-8])

        let mask = try ckpt.tensor(named: "gpt_neox.layers.0.attention.bias")
        XCTAssertEqual(mask.dtype, .bool)
        XCTAssertEqual(mask.shape, [1, 1, 4, 4])
        XCTAssertEqual(bytesOf(mask), (0..<16).map { ($0 % 4) <= ($0 / 4) ? 1 : 0 })

        let scalar = try ckpt.tensor(named: "gpt_neox.layers.0.attention.masked_bias")
        XCTAssertEqual(scalar.shape, [])
        XCTAssertEqual(scalar.elementCount, 1)
        XCTAssertEqual(scalar.toFloat32(), [-1e9])

        let ids = try ckpt.tensor(named: "ids")
        XCTAssertEqual(ids.dtype, .i64)
        XCTAssertEqual(loadAll(ids, as: Int64.self), [1, -2, 3_000_000_000])

        let empty = try ckpt.tensor(named: "empty")
        XCTAssertEqual(empty.shape, [0, 3])
        XCTAssertEqual(empty.data.count, 0)

        assertCheckpointError(try ckpt.tensor(named: "nope"), "no tensor named nope")
    }

    func testSharedStorageWithOffset() throws {
        let ckpt = try TorchCheckpoint(path: CheckpointFixtures.path("bin/pytorch_model.bin"))
        let a = try ckpt.tensor(named: "extra.shared_a")
        let b = try ckpt.tensor(named: "extra.shared_b")
        XCTAssertEqual(a.toFloat32(), [2, 3, 4, 5])
        XCTAssertEqual(b.toFloat32(), [0, 1, 2])
        // Both are views into the one storage entry: a starts two floats after b.
        XCTAssertEqual(a.data.baseAddress, b.data.baseAddress.map { $0 + 8 })
    }

    func testTransposedTensorIsRefused() throws {
        let ckpt = try TorchCheckpoint(path: CheckpointFixtures.path("bin/pytorch_model.bin"))
        let e = assertCheckpointError(try ckpt.tensor(named: "extra.transposed"), "extra.transposed", "not row-major contiguous")
        guard case .unsupportedLayout = e else { return XCTFail("wrong case \(String(describing: e))") }
    }

    func testArchivePrefixAndZip64() throws {
        let archive = try TorchCheckpoint(path: CheckpointFixtures.path("bin-archive/pytorch_model.bin"))
        XCTAssertEqual(archive.prefix, "archive")
        let zip64 = try TorchCheckpoint(path: CheckpointFixtures.path("zip64/pytorch_model.bin"))
        XCTAssertEqual(zip64.prefix, "archive")
        XCTAssertEqual(zip64.tensorNames, archive.tensorNames)
        XCTAssertEqual(zip64.archive.entries.map(\.name), archive.archive.entries.map(\.name))
        try zip64.verifyChecksums()
        try archive.verifyChecksums()
    }

    func testAllFormsAreBitIdentical() throws {
        let reference = try TorchCheckpoint(path: CheckpointFixtures.path("bin/pytorch_model.bin"))
        var others: [(String, TensorSource)] = []
        for dir in ["bin", "bin-archive", "bin-proto4", "zip64", "safetensors", "sharded", "sharded-bin"] {
            others.append((dir, try Checkpoint.open(directory: CheckpointFixtures.path(dir))))
        }
        for (dir, source) in others {
            XCTAssertEqual(Set(source.tensorNames).intersection(CheckpointFixtures.commonNames).count,
                           CheckpointFixtures.commonNames.count, dir)
            for name in CheckpointFixtures.commonNames {
                let want = try reference.tensor(named: name)
                let got = try source.tensor(named: name)
                XCTAssertEqual(got.dtype, want.dtype, "\(dir) \(name)")
                XCTAssertEqual(got.shape, want.shape, "\(dir) \(name)")
                XCTAssertEqual(bytesOf(got), bytesOf(want), "\(dir) \(name)")
            }
        }
    }

    func testOpenChoosesLayout() throws {
        XCTAssertTrue(try Checkpoint.open(directory: CheckpointFixtures.path("sharded")) is ShardedCheckpoint)
        XCTAssertTrue(try Checkpoint.open(directory: CheckpointFixtures.path("sharded-bin")) is ShardedCheckpoint)
        XCTAssertTrue(try Checkpoint.open(directory: CheckpointFixtures.path("safetensors")) is SafetensorsCheckpoint)
        XCTAssertTrue(try Checkpoint.open(directory: CheckpointFixtures.path("bin")) is TorchCheckpoint)
        let sharded = try XCTUnwrap(try Checkpoint.open(directory: CheckpointFixtures.path("sharded")) as? ShardedCheckpoint)
        XCTAssertEqual(sharded.shards.count, 2)
        XCTAssertEqual(Set(sharded.tensorNames), Set(CheckpointFixtures.commonNames))

        let empty = try makeTemporaryDirectory(self)
        assertCheckpointError(try Checkpoint.open(directory: empty.path), "no checkpoint in",
                              "model.safetensors.index.json", "model.safetensors", "pytorch_model.bin.index.json",
                              "pytorch_model.bin")
    }

    func testSafetensorsOrderAndMetadataIgnored() throws {
        let st = try SafetensorsCheckpoint(path: CheckpointFixtures.path("safetensors/model.safetensors"))
        XCTAssertEqual(Set(st.tensorNames), Set(CheckpointFixtures.commonNames))
        XCTAssertFalse(st.tensorNames.contains("__metadata__"))
    }

    func testLegacyBuffers() {
        XCTAssertTrue(Checkpoint.isLegacyBuffer("gpt_neox.layers.3.attention.bias"))
        XCTAssertTrue(Checkpoint.isLegacyBuffer("gpt_neox.layers.3.attention.masked_bias"))
        XCTAssertTrue(Checkpoint.isLegacyBuffer("gpt_neox.layers.3.attention.rotary_emb.inv_freq"))
        XCTAssertFalse(Checkpoint.isLegacyBuffer("gpt_neox.layers.3.attention.dense.bias"))
        XCTAssertFalse(Checkpoint.isLegacyBuffer("gpt_neox.layers.3.attention.query_key_value.bias"))
        XCTAssertFalse(Checkpoint.isLegacyBuffer("gpt_neox.layers.3.attention.query_key_value.weight"))
        XCTAssertFalse(Checkpoint.isLegacyBuffer("embed_out.weight"))
    }

    func testCRC32MatchesBitwiseReference() {
        func reference(_ bytes: [UInt8]) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes {
                c ^= UInt32(b)
                for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
            }
            return ~c
        }
        let check = Array("123456789".utf8)
        XCTAssertEqual(check.withUnsafeBytes { CRC32.checksum($0) }, 0xCBF4_3926)
        var state: UInt64 = 12345
        let data: [UInt8] = (0..<1000).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        for n in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 999, 1000] {
            let slice = Array(data[0..<n])
            XCTAssertEqual(slice.withUnsafeBytes { CRC32.checksum($0) }, reference(slice), "length \(n)")
        }
        // Continuing from a previous CRC equals checksumming the concatenation.
        let whole = data.withUnsafeBytes { CRC32.checksum($0) }
        let first = data.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<333])) }
        let joined = data.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[333...]), previous: first) }
        XCTAssertEqual(joined, whole)
    }
}
