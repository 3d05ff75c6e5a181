//! `gguf`: a llama.cpp model or projector file, header and metadata: opened and checked as the
//! engine opens it, then everything the loader reads from metadata alone (decoder and vision
//! configs, the tokenizer it builds, the chat template), and the model manager's own header
//! reader. Tensors are never read: their bounds are what `GgufFile::open` checks.

use smolvlm::gguf::{self, GgufFile};
use smolvlm_text::Message;

use crate::scratch::scratch;

pub fn gguf(data: &[u8]) {
    let scratch = scratch();
    let path = scratch.write("model.gguf", data);
    let _ = smolvlm_hub::gguf::read_gguf_header(&path);
    let Ok(file) = GgufFile::open(&path) else {
        return;
    };
    if let Ok(text) = gguf::text_config(&file) {
        let _ = text.rope_scaling();
        let _ = gguf::model_config(&text, None, 0);
    }
    let _ = gguf::mmproj_config(&file);
    let _ = gguf::tokenizer_config(&file);
    let Ok(tokenizer) = gguf::tokenizer(&file) else {
        return;
    };
    let _ = tokenizer.encode("Hi <image> 12 ü");
    if let Ok(template) = gguf::chat_template(&file, &tokenizer) {
        let _ = template.render(&[Message::text(smolvlm_text::Role::User, "Hi")], true);
    }
}
