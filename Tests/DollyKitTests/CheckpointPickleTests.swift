import Foundation
import XCTest
@testable import DollyKit

/// Hand-assembled pickles for the reader's refusals and limits.
final class CheckpointPickleTests: XCTestCase {
    private func parse(_ bytes: [UInt8]) throws -> [(name: String, tensor: PickledTensor)] {
        try bytes.withUnsafeBytes { try TorchPickle.stateDict($0, file: "test.pkl") }
    }

    private func unicode(_ s: String) -> [UInt8] { [0x8C, UInt8(s.utf8.count)] + Array(s.utf8) }

    func testStackGlobalOutsideAllowListIsRefused() {
        // PROTO 4, 'builtins' 'eval' STACK_GLOBAL ...: refused as soon as the global is named.
        let p: [UInt8] = [0x80, 4] + unicode("builtins") + unicode("eval") + [0x93, 0x2E]
        assertCheckpointError(try parse(p), "unexpected global builtins.eval")
        let g: [UInt8] = [0x80, 2, 0x63] + Array("torch\nload\n".utf8) + [0x2E]
        assertCheckpointError(try parse(g), "unexpected global torch.load")
    }

    func testStackIsBounded() {
        // A million NONEs: refused with a clear message instead of growing without limit.
        let p: [UInt8] = [0x80, 2] + [UInt8](repeating: 0x4E, count: TorchPickle.maxStack + 1) + [0x2E]
        assertCheckpointError(try parse(p), "stack exceeds")
    }

    func testStructuralRefusals() {
        let cases: [([UInt8], String)] = [
            ([0x80, 9, 0x7D, 0x2E], "unsupported pickle protocol 9"),
            ([0x80, 2, 0x7D], "truncated"),
            ([0x80, 2, 0x2E], "STOP with 0 values"),
            ([0x80, 2, 0x4E, 0x2E], "not a state_dict"),
            ([0x80, 2, 0x68, 7, 0x2E], "memo key 7 was never stored"),
            ([0x80, 2, 0x7D, 0x61, 0x2E], "stack underflow"),
            ([0x80, 2, 0x4E, 0x4E, 0x61, 0x2E], "APPEND to something other than a list"),
            ([0x80, 2, 0x4E, 0x7D, 0x62, 0x2E], "BUILD on something other than an OrderedDict"),
            ([0x80, 2, 0x7D] + unicode("x") + [0x4B, 1, 0x73, 0x2E], "entry x is not a tensor"),
            ([0x80, 2, 0x7D, 0x4B, 1, 0x4B, 1, 0x73, 0x2E], "key that is not a string"),
            ([0x80, 2, 0x7D, 0x28, 0x4E, 0x2E], "STOP with"),
            ([0x80, 2, 0x7D, 0x29, 0x51, 0x2E], "persistent id is not"),
            ([0x80, 2, 0x7D, 0x58, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E], "truncated"),
            ([0x80, 2, 0x8C, 2, 0xC3, 0x28, 0x2E], "not valid UTF-8"),
            ([0x80, 2, 0x7D, 0x8A, 9] + [UInt8](repeating: 0, count: 9) + [0x2E], "integer of 9 bytes"),
            ([0x80, 2, 0x7D, 0x56, 0x2E], "unsupported opcode 0x56"),
        ]
        for (bytes, fragment) in cases {
            assertCheckpointError(try parse(bytes), fragment)
        }
    }

    func testOrderedDictWithMetadataBuild() throws {
        // OrderedDict() then BUILD with a state dict (torch's `_metadata`) is accepted and ignored.
        let p: [UInt8] = [0x80, 2, 0x63] + Array("collections\nOrderedDict\n".utf8) + [0x29, 0x52, 0x7D, 0x62, 0x2E]
        XCTAssertEqual(try parse(p).count, 0)
    }
}
