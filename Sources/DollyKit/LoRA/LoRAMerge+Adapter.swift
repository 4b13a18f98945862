#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension LoRAMerge {
    /// The merge applied at run time instead: an f32 `LoRAAdapter` made in memory (no file) for a model
    /// of shape `config` whose query/key/value rows are in `qkvLayout`. Memory grows by the adapter's
    /// size only, where merging would hold every changed matrix in f32 (`dolly imatrix --lora`).
    /// Each layer matrix's input is the merged model's, up to float rounding: W x + s·B(A x) instead
    /// of (W + s·B A) x.
    public func runtimeAdapter(config c: ModelConfig, qkvLayout: QKVLayout) throws -> LoRAAdapter {
        let deltas = try adapter.deltas(layers: c.numHiddenLayers, factor: scale)
        // f32: exactly what PEFT trained, as the merge uses it. The encoder puts B's query_key_value
        // rows in the `.dolly` order and the reader back in the model's, so both layouts fit.
        let image = try AdapterFile.image(deltas, type: .f32, base: c, identity: calibrationIdentity,
                                          alpha: Double(adapter.alpha), rslora: adapter.useRSLoRA, createdBy: "dolly (in memory)")
        return try LoRAAdapter(image: image, name: adapter.name, config: c, qkvLayout: qkvLayout)
    }
}
