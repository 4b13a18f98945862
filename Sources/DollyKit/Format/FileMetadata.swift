#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The JSON metadata of a `.dolly` file (docs/FORMAT.md section 3). Unknown keys are ignored.
public struct FileMetadata: Codable, Sendable {
    public struct Quantization: Codable, Sendable, Equatable {
        public var recipe: String
        public var matrices: TensorType
        public var embedIn: TensorType
        public var embedOut: TensorType
        public var vectors: TensorType
        /// How the Q4 blocks were fitted: absent, least squared error; "magnitude", errors weighted by
        /// sqrt(sigma^2 + x^2); either times the importance matrix when `imatrix` is set.
        public var weighting: String?
        /// The calibration behind the importance matrix the blocks were fitted with, if any.
        public var imatrix: ImportanceMatrix.Calibration?
        /// "compensated" when each rounding error was compensated by the later columns of its band through
        /// the importance matrix's input covariance (GPTQ); absent: every block fitted on its own.
        public var fit: String?
        enum CodingKeys: String, CodingKey {
            case recipe, matrices, vectors, weighting, imatrix, fit
            case embedIn = "embed_in"
            case embedOut = "embed_out"
        }
    }

    public struct SourceFile: Codable, Sendable, Equatable {
        public var name: String
        public var bytes: Int
    }

    public struct Source: Codable, Sendable, Equatable {
        public var format: String
        public var files: [SourceFile]
        public var configCRC32: String
        enum CodingKeys: String, CodingKey {
            case format, files
            case configCRC32 = "config_crc32"
        }
    }

    public struct Tensor: Codable, Sendable, Equatable {
        public var name: String
        public var type: TensorType
        public var shape: [Int]
        /// Relative to the data section.
        public var offset: Int
        public var bytes: Int
        /// 8 lowercase hex digits (fixed width: the writer patches it in place).
        public var crc32: String
    }

    public var format: String
    public var createdBy: String
    public var model: ModelConfig
    public var quantization: Quantization
    public var source: Source
    /// Name of the `u8` tensor holding tokenizer.json.
    public var tokenizer: String
    public var tensors: [Tensor]
    /// Adapters merged into the weights at conversion (`dolly convert --lora`); absent when none.
    public var lora: [MergedAdapter]? = nil

    enum CodingKeys: String, CodingKey {
        case format, model, quantization, source, tokenizer, tensors, lora
        case createdBy = "created_by"
    }

    static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }
}
