//! Idefics3's SigLIP vision transformer (`Idefics3VisionTransformer`). Written here rather than
//! reusing candle-transformers' `siglip` because that one bakes in SigLIP's own defaults and
//! pooling head, and its dense `candle_nn::Linear` layers could not take quantized weights.

use candle_core::{Module, Result, Tensor};
use candle_nn::LayerNorm;

use super::cpu_ops::{self, GeluTanh, on_cpu_f32};
use super::linear::{Linear, LinearWeight};
use super::weights::Weights;
use crate::config::{Activation, VisionConfig};

/// Patch embedding as a matrix product: with stride == kernel a convolution is exactly
/// (patches × C·p·p) @ (C·p·p × hidden), which runs at GEMM speed.
#[derive(Debug, Clone)]
struct Embeddings {
    patch: Linear,
    position_embedding: Tensor,
    patch_size: usize,
    channels: usize,
    /// Patches per side of the tower (`image_size / patch_size`, rounded down as the
    /// convolution does).
    per_side: usize,
}

impl Embeddings {
    fn new(cfg: &VisionConfig, w: &Weights) -> Result<Self> {
        let (c, p, h) = (cfg.num_channels, cfg.patch_size, cfg.hidden_size);
        let pw = w.pp("patch_embedding");
        let weight = pw.tensor((h, c, p, p), "weight")?.reshape((h, c * p * p))?;
        let bias = pw.tensor(h, "bias")?;
        let position_embedding = w
            .pp("position_embedding")
            .tensor((cfg.num_patches(), h), "weight")?;
        Ok(Self {
            patch: Linear::new(
                LinearWeight::Dense(weight).for_compute(pw.precision("weight"))?,
                Some(bias),
            ),
            position_embedding,
            patch_size: p,
            channels: c,
            per_side: cfg.patches_per_side(),
        })
    }

    /// (frames, C, H, W) → (frames, patches, hidden). A side that is not a multiple of the patch
    /// loses its last pixels, as the stride-p convolution's "valid" padding drops them (SO400M/14
    /// at 384 px: 27 patches, 6 pixels unused). Positions are Idefics3's bucketed ids.
    fn forward(&self, pixels: &Tensor) -> Result<Tensor> {
        let (n, c, h, w) = pixels.dims4()?;
        let p = self.patch_size;
        let (gh, gw) = (h / p, w / p);
        if c != self.channels || gh == 0 || gw == 0 || gh > self.per_side || gw > self.per_side {
            candle_core::bail!(
                "frame of shape {:?} does not fit the patch grid",
                pixels.dims()
            );
        }
        let pixels = if (gh * p, gw * p) == (h, w) {
            pixels.clone()
        } else {
            pixels
                .narrow(2, 0, gh * p)?
                .narrow(3, 0, gw * p)?
                .contiguous()?
        };
        let patches = pixels
            .reshape((n, c, gh, p, gw, p))?
            .permute((0, 2, 4, 1, 3, 5))?
            .reshape((n, gh * gw, c * p * p))?;
        let positions = match super::patch_positions::position_ids(gh, gw, self.per_side) {
            None => self.position_embedding.narrow(0, 0, gh * gw)?,
            Some(ids) => {
                let ids = Tensor::from_vec(ids, gh * gw, self.position_embedding.device())?;
                self.position_embedding.index_select(&ids, 0)?
            }
        };
        self.patch.forward(&patches)?.broadcast_add(&positions)
    }
}

#[derive(Debug, Clone)]
struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    num_heads: usize,
    head_dim: usize,
}

impl Attention {
    fn new(cfg: &VisionConfig, w: &Weights) -> Result<Self> {
        let h = cfg.hidden_size;
        Ok(Self {
            q_proj: w.linear(h, h, true, "q_proj")?,
            k_proj: w.linear(h, h, true, "k_proj")?,
            v_proj: w.linear(h, h, true, "v_proj")?,
            out_proj: w.linear(h, h, true, "out_proj")?,
            num_heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim(),
        })
    }
}

impl Module for Attention {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (n, seq, hidden) = xs.dims3()?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        if on_cpu_f32(xs) {
            let split = |t: Tensor| t.reshape((n, seq, self.num_heads, self.head_dim));
            let q = split(self.q_proj.forward(xs)?)?;
            let k = split(self.k_proj.forward(xs)?)?;
            let v = split(self.v_proj.forward(xs)?)?;
            return self.out_proj.forward(&cpu_ops::attention(
                &q,
                &k,
                &v,
                None,
                scale,
                self.q_proj.precision(),
            )?);
        }
        let heads = |t: Tensor| {
            t.reshape((n, seq, self.num_heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = heads(self.q_proj.forward(xs)?)?;
        let k = heads(self.k_proj.forward(xs)?)?;
        let v = heads(self.v_proj.forward(xs)?)?;
        let scores = (q.matmul(&k.t()?)? * scale)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((n, seq, hidden))?;
        self.out_proj.forward(&out)
    }
}

#[derive(Debug, Clone)]
struct Mlp {
    fc1: Linear,
    fc2: Linear,
    act: Activation,
}

impl Module for Mlp {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = self.fc1.forward(xs)?;
        let xs = match self.act {
            Activation::GeluPytorchTanh if on_cpu_f32(&xs) => {
                let xs = xs.contiguous()?;
                xs.inplace_op1(&GeluTanh)?;
                xs
            }
            Activation::GeluPytorchTanh => xs.gelu()?,
            Activation::Gelu => xs.gelu_erf()?,
            Activation::QuickGelu => (&xs * candle_nn::ops::sigmoid(&(&xs * 1.702)?)?)?,
            Activation::Silu => candle_nn::ops::silu(&xs)?,
            Activation::Relu => xs.relu()?,
        };
        self.fc2.forward(&xs)
    }
}

#[derive(Debug, Clone)]
struct EncoderLayer {
    layer_norm1: LayerNorm,
    self_attn: Attention,
    layer_norm2: LayerNorm,
    mlp: Mlp,
}

impl EncoderLayer {
    fn new(cfg: &VisionConfig, w: &Weights) -> Result<Self> {
        let (h, i, eps) = (cfg.hidden_size, cfg.intermediate_size, cfg.layer_norm_eps);
        Ok(Self {
            layer_norm1: w.layer_norm(h, eps, "layer_norm1")?,
            self_attn: Attention::new(cfg, &w.pp("self_attn"))?,
            layer_norm2: w.layer_norm(h, eps, "layer_norm2")?,
            mlp: Mlp {
                fc1: w.linear(h, i, true, "mlp.fc1")?,
                fc2: w.linear(i, h, true, "mlp.fc2")?,
                act: cfg.hidden_act,
            },
        })
    }
}

impl Module for EncoderLayer {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = (xs + self.self_attn.forward(&self.layer_norm1.forward(xs)?)?)?;
        &xs + self.mlp.forward(&self.layer_norm2.forward(&xs)?)?
    }
}

/// Embeddings → encoder layers → post-LayerNorm: `last_hidden_state` of the vision model.
#[derive(Debug, Clone)]
pub struct VisionTransformer {
    embeddings: Embeddings,
    layers: Vec<EncoderLayer>,
    post_layernorm: LayerNorm,
}

impl VisionTransformer {
    /// `w` points at `model.vision_model`.
    pub fn new(cfg: &VisionConfig, w: &Weights) -> Result<Self> {
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| EncoderLayer::new(cfg, &w.pp(format!("encoder.layers.{i}"))))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            embeddings: Embeddings::new(cfg, &w.pp("embeddings"))?,
            layers,
            post_layernorm: w.layer_norm(cfg.hidden_size, cfg.layer_norm_eps, "post_layernorm")?,
        })
    }
}

impl Module for VisionTransformer {
    /// (frames, C, T, T) → (frames, patches, hidden).
    fn forward(&self, pixels: &Tensor) -> Result<Tensor> {
        let mut xs = self.embeddings.forward(pixels)?;
        for layer in &self.layers {
            xs = layer.forward(&xs)?;
        }
        self.post_layernorm.forward(&xs)
    }
}
