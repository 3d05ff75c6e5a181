//! `safetensors_header`: a model folder's weights as the engine loads them: the safetensors
//! header (JSON after a length prefix) of `model.safetensors`, or the
//! `model.safetensors.index.json` whose `weight_map` names the shards, with one shard beside
//! it. The model is the tiny test model's config, so a header that names the right tensors
//! loads them; the fuzzer mostly finds the header refused, as it must be.

use std::sync::OnceLock;

use candle_core::{DType, Device};
use smolvlm::config::ModelConfig;
use smolvlm::model::SmolVlm;

use crate::scratch::scratch;

/// The first byte picks the layout: even, the rest is `model.safetensors`; odd, the rest is an
/// index, a NUL, then the shard it may name as `shard.safetensors`.
pub fn safetensors_header(data: &[u8]) {
    let Some((&layout, rest)) = data.split_first() else {
        return;
    };
    let scratch = scratch();
    if layout % 2 == 0 {
        scratch.write("model.safetensors", rest);
    } else {
        let (index, shard) = match rest.iter().position(|&b| b == 0) {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, &[][..]),
        };
        scratch.write("model.safetensors.index.json", index);
        scratch.write("shard.safetensors", shard);
    }
    let _ = SmolVlm::load(
        scratch.path(),
        config(),
        &Device::Cpu,
        DType::F32,
        smolvlm::Quantization::None,
    );
}

fn config() -> &'static ModelConfig {
    static CONFIG: OnceLock<ModelConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let json = include_str!("../../../tests/fixtures/tiny-smolvlm/config.json");
        serde_json::from_str(json).expect("the tiny model's config parses")
    })
}
