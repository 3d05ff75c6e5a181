//! A GGUF (version 3) file from metadata and tensor descriptions: how `tokenizer_gguf` turns
//! its structured input into the file the loader reads, and how the seed corpora's small GGUF
//! files are made (`examples/make_seeds.rs`).

/// GGUF value types (ggml's `gguf_type`).
const U32: u32 = 4;
const I32: u32 = 5;
const F32: u32 = 6;
const BOOL: u32 = 7;
const STRING: u32 = 8;
const ARRAY: u32 = 9;
const U64: u32 = 10;

/// The alignment of the tensor data (GGUF's default, `general.alignment` absent).
const ALIGNMENT: usize = 32;

#[derive(Default)]
pub struct GgufWriter {
    kvs: Vec<u8>,
    kv_count: u64,
    infos: Vec<u8>,
    data: Vec<u8>,
    tensor_count: u64,
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s);
}

impl GgufWriter {
    fn key(&mut self, key: &str, ty: u32) -> &mut Vec<u8> {
        self.kv_count += 1;
        put_str(&mut self.kvs, key.as_bytes());
        self.kvs.extend_from_slice(&ty.to_le_bytes());
        &mut self.kvs
    }

    pub fn string(&mut self, key: &str, value: &[u8]) -> &mut Self {
        put_str(self.key(key, STRING), value);
        self
    }

    pub fn u32(&mut self, key: &str, value: u32) -> &mut Self {
        self.key(key, U32).extend_from_slice(&value.to_le_bytes());
        self
    }

    pub fn u64(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key, U64).extend_from_slice(&value.to_le_bytes());
        self
    }

    pub fn f32(&mut self, key: &str, value: f32) -> &mut Self {
        self.key(key, F32).extend_from_slice(&value.to_le_bytes());
        self
    }

    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key, BOOL).push(u8::from(value));
        self
    }

    pub fn strings<S: AsRef<[u8]>>(&mut self, key: &str, values: &[S]) -> &mut Self {
        let out = self.key(key, ARRAY);
        out.extend_from_slice(&STRING.to_le_bytes());
        out.extend_from_slice(&(values.len() as u64).to_le_bytes());
        for v in values {
            put_str(out, v.as_ref());
        }
        self
    }

    pub fn i32s(&mut self, key: &str, values: &[i32]) -> &mut Self {
        let out = self.key(key, ARRAY);
        out.extend_from_slice(&I32.to_le_bytes());
        out.extend_from_slice(&(values.len() as u64).to_le_bytes());
        for v in values {
            out.extend_from_slice(&v.to_le_bytes());
        }
        self
    }

    pub fn f32s(&mut self, key: &str, values: &[f32]) -> &mut Self {
        let out = self.key(key, ARRAY);
        out.extend_from_slice(&F32.to_le_bytes());
        out.extend_from_slice(&(values.len() as u64).to_le_bytes());
        for v in values {
            out.extend_from_slice(&v.to_le_bytes());
        }
        self
    }

    /// An f32 tensor of `shape` (candle order, outermost first), zero-filled.
    pub fn f32_tensor(&mut self, name: &str, shape: &[u64]) -> &mut Self {
        const GGML_F32: u32 = 0;
        self.tensor_count += 1;
        put_str(&mut self.infos, name.as_bytes());
        self.infos
            .extend_from_slice(&(shape.len() as u32).to_le_bytes());
        // GGUF lists dimensions innermost first.
        for d in shape.iter().rev() {
            self.infos.extend_from_slice(&d.to_le_bytes());
        }
        self.infos.extend_from_slice(&GGML_F32.to_le_bytes());
        self.infos
            .extend_from_slice(&(self.data.len() as u64).to_le_bytes());
        let elems: u64 = shape.iter().product();
        self.data.resize(self.data.len() + elems as usize * 4, 0);
        self.data
            .resize(self.data.len().next_multiple_of(ALIGNMENT), 0);
        self
    }

    pub fn finish(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + self.kvs.len() + self.infos.len() + self.data.len());
        out.extend_from_slice(b"GGUF");
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&self.tensor_count.to_le_bytes());
        out.extend_from_slice(&self.kv_count.to_le_bytes());
        out.extend_from_slice(&self.kvs);
        out.extend_from_slice(&self.infos);
        if self.tensor_count > 0 {
            out.resize(out.len().next_multiple_of(ALIGNMENT), 0);
            out.extend_from_slice(&self.data);
        }
        out
    }
}
