//! Safetensors models quantized as they load (`LoadOptions::quant`), decoder and vision tower.
//!
//! Reference: the transformers goldens of tests/fixtures/tiny-smolvlm (f32). Quantization error
//! is the point here, so the check is a bound per type on the step-0 logits (measured and printed,
//! the bound about twice the measurement), that more bits never do worse than fewer (Q8_0 ≤ Q5_1
//! ≤ Q4_1 up to a small slack), and that the weights really changed (error above zero).
//! Measured (AVX-512 VNNI, prompts on the integer kernels): Q8_0 0.54 (0.41 with the prompt
//! on dequantized weights, as llama.cpp's own q8_0 conversion of this model), Q6_K 0.75,
//! Q5_1 3.05, Q5_0 3.17, Q4_1 5.94, Q4_0 7.26, Q4_K 3.24 — the fixture's widths (64, 128) are no
//! multiple of 256, so the k-quants fall back to 32-blocks as llama.cpp's quantizer does. Errors
//! look large because this random model's lm_head is scaled ×4 to spread its logits.

use std::path::PathBuf;

use smolvlm::{LoadOptions, Quantization, SmolVlmModel};

use crate::support;

fn fixture() -> PathBuf {
    support::fixture("tiny-smolvlm")
}

/// Max |logits − golden| at step 0 of the first case with images, quantized at load as `quant`.
fn step0_error(quant: Quantization) -> f32 {
    let dir = fixture();
    let options = LoadOptions {
        quant,
        ..Default::default()
    };
    let mut model = SmolVlmModel::load(&dir, &options).unwrap();
    support::step0_logit_error(&mut model, &dir)
}

#[test]
fn quantized_at_load_stays_within_bounds() {
    let none = step0_error(Quantization::None);
    assert!(none <= 1e-4, "unquantized: {none}");
    let mut errors = Vec::new();
    for (q, bound) in [
        (Quantization::Q8_0, 0.8),
        (Quantization::Q6K, 1.5),
        (Quantization::Q5_1, 6.0),
        (Quantization::Q5_0, 6.0),
        (Quantization::Q4_1, 12.0),
        (Quantization::Q4_0, 15.0),
        (Quantization::Q4K, 6.0),
    ] {
        let e = step0_error(q);
        println!("{q:?}: step-0 logits within {e} of transformers (bound {bound})");
        assert!(
            e > 1e-4,
            "{q:?} changed nothing: the weights were not quantized"
        );
        assert!(e <= bound, "{q:?}: {e} > {bound}");
        errors.push((q, e));
    }
    let err = |q| errors.iter().find(|(x, _)| *x == q).unwrap().1;
    assert!(err(Quantization::Q8_0) <= err(Quantization::Q5_1) * 1.1);
    assert!(err(Quantization::Q5_1) <= err(Quantization::Q4_1) * 1.1);
}
