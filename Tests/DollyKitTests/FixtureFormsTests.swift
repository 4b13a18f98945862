import DollyKit
import Foundation
import XCTest

/// The published-layout fixtures: the .bin, single safetensors and sharded safetensors carry
/// bit-identical tensors, and the .bin's legacy buffers are exactly the ones recognised as such.
final class FixtureFormsTests: XCTestCase {
    func testThreeCheckpointFormsLoadBitIdenticalTensors() throws {
        let bin = try Checkpoint.open(directory: FixturePaths.path("tiny-bin"))
        let single = try Checkpoint.open(directory: FixturePaths.path("tiny-safetensors"))
        let sharded = try Checkpoint.open(directory: FixturePaths.path("tiny-sharded"))
        let weights = bin.tensorNames.filter { !Checkpoint.isLegacyBuffer($0) }
        XCTAssertEqual(Set(weights), Set(single.tensorNames))
        XCTAssertEqual(Set(weights), Set(sharded.tensorNames))
        XCTAssertEqual(bin.tensorNames.count - weights.count, 3 * 2, "three legacy buffers per layer")
        for name in weights {
            let a = try bin.tensor(named: name), b = try single.tensor(named: name), c = try sharded.tensor(named: name)
            XCTAssertEqual(a.dtype, .bf16, name)
            for other in [b, c] {
                XCTAssertEqual(other.dtype, a.dtype, name)
                XCTAssertEqual(other.shape, a.shape, name)
                XCTAssertTrue(a.data.elementsEqual(other.data), "\(name) differs between forms")
            }
        }
    }

    /// Found by tools/ci/fuzz.sh (config target): 4 * hidden_size overflowed and trapped.
    func testAbsurdConfigValuesAreErrorsNotTraps() {
        for json in [#"{"hidden_size": 4611686018427387904, "num_hidden_layers": 1, "num_attention_heads": 1, "vocab_size": 1}"#,
                     #"{"hidden_size": -9223372036854775808, "num_hidden_layers": 1, "num_attention_heads": 1, "vocab_size": 1}"#,
                     #"{"hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 0, "vocab_size": 1}"#] {
            XCTAssertThrowsError(try ModelConfig.decode(Data(json.utf8)), json)
        }
    }

    /// Found by tools/ci/fuzz.sh (tokenizer-json target): a vocabulary id of 1,222,222,222 made the
    /// tokenizer allocate an id-indexed table of that size (out of memory).
    func testTokenizerWithAbsurdIdIsRefused() {
        let json = #"{"added_tokens":[],"normalizer":{"type":"NFC"},"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},"decoder":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"a":0,"b":1222222222,"ab":2},"merges":["a b"]}}"#
        XCTAssertThrowsError(try Tokenizer(data: Data(json.utf8))) { error in
            XCTAssertTrue(error.localizedDescription.contains("out of range"), error.localizedDescription)
        }
    }
}
