use std::sync::Arc;
use smolvlm_kernels::{QWeight, SimdLevel, WeightType};
#[test]
fn scratch() {
    let path = std::env::var("SMOLVLM_REAL_GGUF").unwrap();
    let f = smolvlm::gguf::GgufFile::open(std::path::Path::new(&path)).unwrap();
    let mut worst = (0f32, String::new());
    for l in 0..30 {
      for t in ["attn_q","attn_k","attn_v","attn_output","ffn_up","ffn_gate","ffn_down"] {
        let name = format!("blk.{l}.{t}.weight");
        let (e, bytes) = f.tensor_bytes(&name).unwrap();
        let (rows, cols) = (e.shape[0], e.shape[1]);
        let data = Arc::new(bytes.to_vec());
        let mut x: Vec<f32> = (0..cols).map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0)).collect();
        x[5] = 300.0; x[100] = -50.0;
        let mut outs = vec![];
        for level in [SimdLevel::Scalar, SimdLevel::Avx2] {
            let w = QWeight::with_level(WeightType::Q4_1, rows, cols, data.clone(), 0, level).unwrap();
            let mut y = vec![0f32; rows];
            w.matmul(&x, &mut y);
            outs.push(y);
        }
        let d = outs[0].iter().zip(&outs[1]).map(|(a,b)| (a-b).abs() / (1.0 + b.abs())).fold(0f32, f32::max);
        if d > worst.0 { worst = (d, name.clone()); }
        if d > 1e-3 { eprintln!("{name} {:?}: scalar vs avx2 rel {d}", e.shape); }
      }
    }
    eprintln!("worst {worst:?}");
}
