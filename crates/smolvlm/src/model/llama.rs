//! The one Llama decoder (SmolLM2) of every SmolVLM. It takes input embeddings rather than token
//! ids, because image features replace the `<image>` embeddings before the first layer, and keeps
//! a KV cache that can be cut back to a shared prefix for follow-up questions.

use candle_core::{D, DType, Device, Module, Result, Tensor};
use candle_nn::RmsNorm;

use super::cpu_ops::{self, on_cpu_f32};
use super::linear::{Linear, TokenEmbedding};
use super::weights::Weights;
use crate::config::{RopeScaling, TextConfig};

/// Cos/sin tables for rotate-half RoPE, as transformers' `LlamaRotaryEmbedding` computes them:
/// in f32, `inv_freq = 1 / theta^(2i/d)`, angles = position × inv_freq.
#[derive(Debug, Clone)]
struct Rotary {
    cos: Tensor,
    sin: Tensor,
}

impl Rotary {
    fn new(cfg: &TextConfig, scaling: RopeScaling, device: &Device) -> Result<Self> {
        let dim = cfg.head_dim();
        let theta = cfg.rope_theta() as f32;
        let inv_freq: Vec<f32> = (0..dim)
            .step_by(2)
            .map(|i| 1.0 / theta.powf(i as f32 / dim as f32))
            .collect();
        let scale = match scaling {
            RopeScaling::None => 1.0,
            RopeScaling::Linear(factor) => 1.0 / factor as f32,
        };
        let max = cfg.max_position_embeddings;
        let mut angles = Vec::with_capacity(max * inv_freq.len());
        for pos in 0..max {
            let pos = pos as f32 * scale;
            angles.extend(inv_freq.iter().map(|f| pos * f));
        }
        let angles = Tensor::from_vec(angles, (max, dim / 2), device)?;
        Ok(Self {
            cos: angles.cos()?,
            sin: angles.sin()?,
        })
    }

    /// `x`: (batch, heads, seq, head_dim) at positions `start..start + seq`.
    fn apply(&self, x: &Tensor, start: usize) -> Result<Tensor> {
        let seq = x.dim(2)?;
        let cos = self.cos.narrow(0, start, seq)?.to_dtype(x.dtype())?;
        let sin = self.sin.narrow(0, start, seq)?.to_dtype(x.dtype())?;
        candle_nn::rotary_emb::rope(&x.contiguous()?, &cos, &sin)
    }
}

/// Keys or values of one layer: a buffer written in place, so a decode step costs no copy of the
/// whole history. It is allocated once for the positions a generation says it will reach
/// ([`CacheBuffer::reserved`]); past them it grows by doubling. Growing mid-answer would zero
/// and copy the whole cache inside one decode step (1.2 GB for a 2k-token 2.2B context: a
/// step of over a second) and leave up to twice the memory needed.
#[derive(Debug, Clone, Default)]
struct CacheBuffer {
    data: Option<Tensor>,
    len: usize,
    /// Positions the next allocation makes room for at least.
    reserved: usize,
}

impl CacheBuffer {
    /// Appends along the sequence axis (2) and returns the live part.
    fn append(&mut self, x: &Tensor) -> Result<Tensor> {
        let add = x.dim(2)?;
        let needed = self.len + add;
        let capacity = self.data.as_ref().map_or(0, |d| d.dim(2).unwrap_or(0));
        if needed > capacity {
            let mut shape = x.dims().to_vec();
            shape[2] = if needed <= self.reserved {
                self.reserved
            } else {
                needed.max(2 * capacity).max(256)
            };
            let grown = Tensor::zeros(shape, x.dtype(), x.device())?;
            if let Some(old) = &self.data {
                grown.slice_set(&old.narrow(2, 0, self.len)?.contiguous()?, 2, 0)?;
            }
            self.data = Some(grown);
        }
        let data = self.data.as_ref().expect("allocated above");
        data.slice_set(&x.contiguous()?, 2, self.len)?;
        self.len = needed;
        data.narrow(2, 0, self.len)
    }
}

#[derive(Debug, Clone)]
struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    num_heads: usize,
    num_kv_heads: usize,
    head_dim: usize,
    /// Keep keys and values in f16 on the CPU (half the memory, as llama.cpp does): for
    /// quantized weights, whose rounding is far larger. Full-precision models keep f32 so they
    /// reproduce transformers.
    kv_half: bool,
    k_cache: CacheBuffer,
    v_cache: CacheBuffer,
}

impl Attention {
    fn new(cfg: &TextConfig, w: &Weights) -> Result<Self> {
        let (h, hd) = (cfg.hidden_size, cfg.head_dim());
        let (nh, nkv) = (cfg.num_attention_heads, cfg.num_kv_heads());
        let bias = cfg.attention_bias;
        let k_proj = w.linear(h, nkv * hd, bias, "k_proj")?;
        Ok(Self {
            q_proj: w.linear(h, nh * hd, bias, "q_proj")?,
            kv_half: k_proj.is_quantized_cpu(),
            k_proj,
            v_proj: w.linear(h, nkv * hd, bias, "v_proj")?,
            o_proj: w.linear(nh * hd, h, bias, "o_proj")?,
            num_heads: nh,
            num_kv_heads: nkv,
            head_dim: hd,
            k_cache: CacheBuffer::default(),
            v_cache: CacheBuffer::default(),
        })
    }

    fn forward(
        &mut self,
        xs: &Tensor,
        rotary: &Rotary,
        start: usize,
        mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        let (b, seq, _) = xs.dims3()?;
        let heads = |t: Tensor, n: usize| {
            t.reshape((b, seq, n, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (nq, nkv) = (
            self.num_heads * self.head_dim,
            self.num_kv_heads * self.head_dim,
        );
        let fused = Linear::forward_fused(&[&self.q_proj, &self.k_proj, &self.v_proj], xs)?;
        let (q, k, v) = match fused {
            Some(qkv) => (
                qkv.narrow(D::Minus1, 0, nq)?,
                qkv.narrow(D::Minus1, nq, nkv)?,
                qkv.narrow(D::Minus1, nq + nkv, nkv)?,
            ),
            None => (
                self.q_proj.forward(xs)?,
                self.k_proj.forward(xs)?,
                self.v_proj.forward(xs)?,
            ),
        };
        let q = heads(q, self.num_heads)?;
        let k = heads(k, self.num_kv_heads)?;
        let v = heads(v, self.num_kv_heads)?;
        let q = rotary.apply(&q, start)?;
        let k = rotary.apply(&k, start)?;
        let (k, v) = if self.kv_half && on_cpu_f32(&k) {
            (k.to_dtype(DType::F16)?, v.to_dtype(DType::F16)?)
        } else {
            (k, v)
        };
        let k = self.k_cache.append(&k)?;
        let v = self.v_cache.append(&v)?;
        let kv_len = k.dim(2)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        if on_cpu_f32(&q) {
            // (b, heads, tokens, hd) views as (b, tokens, heads, hd): the kernel reads strides.
            let out = cpu_ops::attention(
                &q.transpose(1, 2)?,
                &k.transpose(1, 2)?,
                &v.transpose(1, 2)?,
                Some(kv_len - seq),
                scale,
                self.q_proj.precision(),
            )?;
            return self.o_proj.forward(&out);
        }

        // Grouped-query attention: each key/value head serves `groups` query heads. Folding the
        // groups into the query's sequence axis avoids materialising repeated keys and values.
        let groups = self.num_heads / self.num_kv_heads;
        let q = q.reshape((b, self.num_kv_heads, groups * seq, self.head_dim))?;
        let scores = (q.matmul(&k.t()?)? * scale)?;
        let scores = match mask {
            Some(mask) => scores
                .reshape((b, self.num_kv_heads, groups, seq, kv_len))?
                .broadcast_add(mask)?
                .reshape((b, self.num_kv_heads, groups * seq, kv_len))?,
            None => scores,
        };
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = probs.matmul(&v.contiguous()?)?;
        let out = out
            .reshape((b, self.num_heads, seq, self.head_dim))?
            .transpose(1, 2)?
            .reshape((b, seq, self.num_heads * self.head_dim))?;
        self.o_proj.forward(&out)
    }

    fn reserve_cache(&mut self, positions: usize) {
        self.k_cache.reserved = positions;
        self.v_cache.reserved = positions;
    }

    fn clear_cache(&mut self) {
        self.k_cache = CacheBuffer::default();
        self.v_cache = CacheBuffer::default();
    }

    fn truncate_cache(&mut self, len: usize) {
        self.k_cache.len = self.k_cache.len.min(len);
        self.v_cache.len = self.v_cache.len.min(len);
    }
}

#[derive(Debug, Clone)]
struct Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

impl Mlp {
    fn new(cfg: &TextConfig, w: &Weights) -> Result<Self> {
        let (h, i, bias) = (cfg.hidden_size, cfg.intermediate_size, cfg.mlp_bias);
        Ok(Self {
            gate_proj: w.linear(h, i, bias, "gate_proj")?,
            up_proj: w.linear(h, i, bias, "up_proj")?,
            down_proj: w.linear(i, h, bias, "down_proj")?,
        })
    }
}

impl Module for Mlp {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        if let Some(gate_up) = Linear::forward_fused(&[&self.gate_proj, &self.up_proj], xs)? {
            return self.down_proj.forward(&cpu_ops::swiglu(&gate_up)?);
        }
        let gate = candle_nn::ops::silu(&self.gate_proj.forward(xs)?)?;
        self.down_proj.forward(&(gate * self.up_proj.forward(xs)?)?)
    }
}

#[derive(Debug, Clone)]
struct DecoderLayer {
    input_layernorm: RmsNorm,
    self_attn: Attention,
    post_attention_layernorm: RmsNorm,
    mlp: Mlp,
}

impl DecoderLayer {
    fn new(cfg: &TextConfig, w: &Weights) -> Result<Self> {
        let (h, eps) = (cfg.hidden_size, cfg.rms_norm_eps);
        Ok(Self {
            input_layernorm: w.rms_norm(h, eps, "input_layernorm")?,
            self_attn: Attention::new(cfg, &w.pp("self_attn"))?,
            post_attention_layernorm: w.rms_norm(h, eps, "post_attention_layernorm")?,
            mlp: Mlp::new(cfg, &w.pp("mlp"))?,
        })
    }

    fn forward(
        &mut self,
        xs: &Tensor,
        rotary: &Rotary,
        start: usize,
        mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        let attn =
            self.self_attn
                .forward(&self.input_layernorm.forward(xs)?, rotary, start, mask)?;
        let xs = (xs + attn)?;
        let mlp = self
            .mlp
            .forward(&self.post_attention_layernorm.forward(&xs)?)?;
        xs + mlp
    }
}

/// Prompt positions run through the layers at once: each layer's temporaries (above all the
/// MLP's gate and up activations, 2 × intermediate wide) grow with it, while the products already
/// run at full speed with a few hundred rows. Peak memory at a 512-token prompt: −7 MiB.
const PREFILL_CHUNK: usize = 256;

/// `LlamaModel` + `lm_head`, driven by embeddings.
#[derive(Debug, Clone)]
pub struct TextModel {
    embed_tokens: TokenEmbedding,
    device: Device,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    lm_head: Linear,
    rotary: Rotary,
    cached_len: usize,
    max_positions: usize,
}

impl TextModel {
    /// `w` points at the decoder (`model.text_model`), `root` at the checkpoint root.
    /// Without an `lm_head.weight` the embedding matrix is the output projection, which is what
    /// transformers ends up with for tied checkpoints (and for the untied ones, it is present).
    pub fn new(cfg: &TextConfig, w: &Weights, root: &Weights) -> Result<Self> {
        let embed_tokens = w.embedding(cfg.vocab_size, cfg.hidden_size, "embed_tokens")?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| DecoderLayer::new(cfg, &w.pp(format!("layers.{i}"))))
            .collect::<Result<Vec<_>>>()?;
        let norm = w.rms_norm(cfg.hidden_size, cfg.rms_norm_eps, "norm")?;
        let lm_head = if root.contains("lm_head.weight") {
            root.linear(cfg.hidden_size, cfg.vocab_size, false, "lm_head")?
        } else {
            embed_tokens.as_linear()
        };
        let scaling = cfg
            .rope_scaling()
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        Ok(Self {
            embed_tokens,
            device: w.device().clone(),
            layers,
            norm,
            lm_head,
            rotary: Rotary::new(cfg, scaling, w.device())?,
            cached_len: 0,
            max_positions: cfg.max_position_embeddings,
        })
    }

    /// Token embeddings for `ids` (a 1-D u32 tensor), shape (len, hidden).
    pub fn embed(&self, ids: &Tensor) -> Result<Tensor> {
        self.embed_tokens.forward(ids)
    }

    /// Runs `embeds` (1, seq, hidden) after what the cache already holds and returns the logits of
    /// the last position, (1, vocab), in f32.
    pub fn forward_embeds(&mut self, embeds: &Tensor) -> Result<Tensor> {
        let (_, seq, _) = embeds.dims3()?;
        let start = self.cached_len;
        if start + seq > self.max_positions {
            candle_core::bail!(
                "sequence of {} exceeds the {} positions of the model",
                start + seq,
                self.max_positions
            );
        }
        let mut last = None;
        let mut at = 0;
        while at < seq {
            let len = PREFILL_CHUNK.min(seq - at);
            last = Some(self.forward_chunk(&embeds.narrow(1, at, len)?)?);
            at += len;
        }
        let Some(last) = last else {
            candle_core::bail!("no positions to run");
        };
        let logits = self.lm_head.forward(&self.norm.forward(&last)?)?;
        logits.squeeze(1)?.to_dtype(DType::F32)
    }

    /// Runs `xs` (1, len, hidden) after the cache and returns the last position's hidden state.
    fn forward_chunk(&mut self, xs: &Tensor) -> Result<Tensor> {
        let (_, len, _) = xs.dims3()?;
        let start = self.cached_len;
        // The CPU kernels apply the causal offset themselves; candle's ops need the mask.
        let mask = if on_cpu_f32(xs) {
            None
        } else {
            causal_mask(len, start, xs.dtype(), xs.device())?
        };
        let mut xs = xs.clone();
        for layer in &mut self.layers {
            xs = layer.forward(&xs, &self.rotary, start, mask.as_ref())?;
        }
        self.cached_len = start + len;
        xs.narrow(1, len - 1, 1)
    }

    /// Positions the KV cache holds.
    pub fn cached_len(&self) -> usize {
        self.cached_len
    }

    /// Makes the KV cache's next allocation hold `positions` (at most the model's), so that a
    /// generation that knows its prompt and its token budget allocates it once.
    pub fn reserve_cache(&mut self, positions: usize) {
        let positions = positions.min(self.max_positions);
        for layer in &mut self.layers {
            layer.self_attn.reserve_cache(positions);
        }
    }

    pub fn clear_cache(&mut self) {
        for layer in &mut self.layers {
            layer.self_attn.clear_cache();
        }
        self.cached_len = 0;
    }

    /// Keeps the first `len` cached positions (a shared prefix) and drops the rest.
    pub fn truncate_cache(&mut self, len: usize) {
        for layer in &mut self.layers {
            layer.self_attn.truncate_cache(len);
        }
        self.cached_len = self.cached_len.min(len);
    }

    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    pub fn device(&self) -> &Device {
        &self.device
    }
}

/// Additive mask (seq, start + seq): position i sees cache entries and new tokens up to itself.
/// A single new token sees everything, so no mask is built for decode steps.
fn causal_mask(seq: usize, start: usize, dtype: DType, device: &Device) -> Result<Option<Tensor>> {
    if seq == 1 {
        return Ok(None);
    }
    let total = start + seq;
    let mask: Vec<f32> = (0..seq)
        .flat_map(|i| {
            (0..total).map(move |j| {
                if j > start + i {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
        })
        .collect();
    Tensor::from_vec(mask, (seq, total), device)?
        .to_dtype(dtype)
        .map(Some)
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::CacheBuffer;

    fn capacity(c: &CacheBuffer) -> usize {
        c.data.as_ref().map_or(0, |d| d.dim(2).unwrap())
    }

    /// (1, 2 heads, len, 4) with distinct values from `from`.
    fn positions(from: usize, len: usize) -> Tensor {
        let v: Vec<f32> = (0..2 * len * 4).map(|i| (from * 100 + i) as f32).collect();
        Tensor::from_vec(v, (1, 2, len, 4), &Device::Cpu).unwrap()
    }

    #[test]
    fn a_reserved_cache_is_allocated_once_and_keeps_every_position() {
        let mut c = CacheBuffer {
            reserved: 300,
            ..CacheBuffer::default()
        };
        let parts = [positions(0, 256), positions(1, 40), positions(2, 1)];
        for p in &parts {
            c.append(p).unwrap();
            assert_eq!(capacity(&c), 300, "no growth inside the reservation");
        }
        // Past the reservation it doubles, and what it held is still there.
        let live = c.append(&positions(3, 4)).unwrap();
        assert_eq!(capacity(&c), 600);
        let mut all: Vec<&Tensor> = parts.iter().collect();
        let last = positions(3, 4);
        all.push(&last);
        let expected = Tensor::cat(&all, 2).unwrap();
        let diff = (live - expected).unwrap().abs().unwrap().sum_all().unwrap();
        assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0);
    }

    #[test]
    fn without_a_reservation_the_cache_grows_by_doubling() {
        let mut c = CacheBuffer::default();
        c.append(&positions(0, 1)).unwrap();
        assert_eq!(capacity(&c), 256);
        c.append(&positions(1, 256)).unwrap();
        assert_eq!(capacity(&c), 512);
    }
}
