//! What a generation changes: the network (its KV cache above all) and the identity of every
//! position that cache holds, kept together so they cannot disagree. A follow-up question
//! repeats the whole conversation; the positions it shares with the cache are not run again.

mod prefix;

use candle_core::Tensor;

pub use prefix::{position_keys, reusable, text_key};

use crate::error::Result;
use crate::model::SmolVlm;

/// Generated positions the KV cache makes room for up front, at most: a client asking for a
/// 16k-token budget would otherwise have the whole of it zeroed before its first token (3.2 GB
/// for 2.2B); longer answers grow the cache by doubling past this.
const RESERVED_ANSWER: usize = 1024;

pub struct Session {
    net: SmolVlm,
    /// One key per position in the decoder's KV cache ([`position_keys`]).
    keys: Vec<u64>,
}

impl Session {
    pub fn new(net: SmolVlm) -> Self {
        Self {
            net,
            keys: Vec::new(),
        }
    }

    pub fn net(&self) -> &SmolVlm {
        &self.net
    }

    /// The network itself, for parity checks and benchmarks of its parts: whatever is done with
    /// it, the next generation starts from an empty cache.
    pub fn net_mut(&mut self) -> &mut SmolVlm {
        self.keys.clear();
        &mut self.net
    }

    /// Forgets the cache (the next prompt runs in full).
    pub fn clear(&mut self) {
        self.keys.clear();
        self.net.text().clear_cache();
    }

    /// How many leading positions of a prompt with these keys the cache can give.
    pub fn reusable(&self, keys: &[u64]) -> usize {
        reusable(&self.keys, keys)
    }

    /// Runs a prompt's positions after its first `reused` (embedded in `embeds`) and returns the
    /// last position's logits; the cache then holds the whole prompt, keyed by `keys`, and has
    /// room for `budget` generated tokens after it (up to [`RESERVED_ANSWER`]) without growing.
    pub fn prefill(
        &mut self,
        reused: usize,
        embeds: &Tensor,
        keys: Vec<u64>,
        budget: usize,
    ) -> Result<Tensor> {
        // Until the pass succeeds the cache's content is unknown.
        self.keys.clear();
        let text = self.net.text();
        text.truncate_cache(reused);
        text.reserve_cache(keys.len().saturating_add(budget.min(RESERVED_ANSWER)));
        let logits = text.forward_embeds(embeds)?;
        self.keys = keys;
        Ok(logits)
    }

    /// Runs one generated token `id` (embedded in `embeds`) after the cached positions.
    pub fn decode(&mut self, id: u32, embeds: &Tensor) -> Result<Tensor> {
        // Until the pass succeeds the cache's content is unknown.
        let mut keys = std::mem::take(&mut self.keys);
        let logits = self.net.text().forward_embeds(embeds)?;
        keys.push(text_key(id));
        self.keys = keys;
        Ok(logits)
    }

    /// The most positions the decoder takes.
    pub fn max_positions(&self) -> usize {
        self.net.max_positions()
    }
}
