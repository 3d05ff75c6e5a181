use smolvlm_kernels::{QWeight, SimdLevel, WeightType};
use std::sync::Arc;
#[test]
fn scratch() {
    let path = std::env::var("SMOLVLM_REAL_GGUF").unwrap();
    let f = smolvlm::gguf::GgufFile::open(std::path::Path::new(&path)).unwrap();
    for name in [
        "blk.0.ffn_up.weight",
        "blk.0.ffn_down.weight",
        "blk.3.attn_q.weight",
        "token_embd.weight",
    ] {
        let (e, bytes) = f.tensor_bytes(name).unwrap();
        let (cols, rows) = (e.shape[e.shape.len() - 1], e.shape[0]);
        let (rows, cols) = if e.shape.len() == 2 {
            (e.shape[0], e.shape[1])
        } else {
            (rows, cols)
        };
        let ty = if name.starts_with("token") {
            WeightType::Q8_0
        } else {
            WeightType::Q4_1
        };
        let data = Arc::new(bytes.to_vec());
        let mut x: Vec<f32> = (0..cols)
            .map(|i| {
                ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * if i % 97 == 0 { 20.0 } else { 1.0 }
            })
            .collect();
        x[5] = 3.0;
        let mut outs = vec![];
        for level in SimdLevel::available() {
            let w = QWeight::with_level(ty, rows, cols, data.clone(), 0, level).unwrap();
            let mut y = vec![0f32; rows];
            w.matmul(&x, &mut y);
            let deq = w.dequantize();
            let r: Vec<f32> = (0..rows)
                .map(|r| (0..cols).map(|c| deq[r * cols + c] * x[c]).sum())
                .collect();
            let err = y
                .iter()
                .zip(&r)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            eprintln!(
                "{name} {:?} shape {:?} max|y - dequant f32| {err}",
                level, e.shape
            );
            outs.push(y);
        }
        let d = outs[0]
            .iter()
            .zip(&outs[1])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!("{name}: scalar vs simd {d}");
    }
}
