import Foundation
import XCTest
@testable import DollyKit

/// Fixtures written by tools/fixtures/make_checkpoint_samples.py, found relative to this source file.
enum CheckpointFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/checkpoint")

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(relative)))
    }

    /// The tensors every form carries (see the sample script), in the .bin's order.
    static let commonNames = [
        "gpt_neox.embed_in.weight",
        "gpt_neox.layers.0.attention.query_key_value.weight",
        "gpt_neox.layers.0.attention.dense.bias",
        "gpt_neox.layers.0.attention.bias",
        "gpt_neox.layers.0.attention.masked_bias",
        "gpt_neox.layers.0.attention.rotary_emb.inv_freq",
        "ids",
        "empty",
    ]
}

/// A fresh temporary directory, removed when the test ends.
func makeTemporaryDirectory(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

/// Asserts `body` throws a CheckpointError whose message contains every fragment; returns it.
@discardableResult
func assertCheckpointError<T>(_ body: @autoclosure () throws -> T, _ fragments: String...,
                              file: StaticString = #filePath, line: UInt = #line) -> CheckpointError? {
    do {
        _ = try body()
        XCTFail("expected a CheckpointError", file: file, line: line)
        return nil
    } catch let e as CheckpointError {
        let message = e.localizedDescription
        for f in fragments where !message.contains(f) {
            XCTFail("message \"\(message)\" lacks \"\(f)\"", file: file, line: line)
        }
        return e
    } catch {
        XCTFail("expected a CheckpointError, got \(type(of: error)): \(error)", file: file, line: line)
        return nil
    }
}

func bytesOf(_ t: TensorView) -> [UInt8] { [UInt8](t.data) }

func loadAll<T: FixedWidthInteger>(_ t: TensorView, as _: T.Type) -> [T] {
    (0..<t.elementCount).map { t.data.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self) }
}
