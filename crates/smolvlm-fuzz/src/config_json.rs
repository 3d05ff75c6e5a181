//! `config_json`: the small JSON files of a Hugging Face model folder, each read by the parser
//! the loader uses: `config.json` (the model), `preprocessor_config.json` and
//! `processor_config.json` (the image processor, whose settings then size images),
//! `tokenizer_config.json`, `chat_template.json` (the template's source), `tokenizer.json`
//! and `generation_config.json`.

use smolvlm::config::{GenerationConfig, ModelConfig};
use smolvlm_image::{ImageProcessor, ProcessorConfig, Resolution};
use smolvlm_text::{ChatTemplate, Message, Role, Tokenizer, TokenizerConfig};

use crate::scratch::scratch;

/// The files, picked by the input's first byte; the rest is the file.
const FILES: [&str; 7] = [
    "config.json",
    "preprocessor_config.json",
    "processor_config.json",
    "tokenizer_config.json",
    "chat_template.json",
    "generation_config.json",
    "tokenizer.json",
];

/// Image sizes a processor is asked to plan for: tiny, odd, wide, tall, the largest accepted.
const SIZES: [(u32, u32); 5] = [(1, 1), (513, 511), (4000, 30), (30, 4000), (16384, 16384)];

pub fn config_json(data: &[u8]) {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let name = FILES[usize::from(pick) % FILES.len()];
    let scratch = scratch();
    let path = scratch.write(name, file);
    let dir = scratch.path();
    match name {
        "config.json" => {
            if let Ok(cfg) = ModelConfig::from_dir(dir) {
                let _ = cfg.tokens_per_frame();
                let _ = cfg.text_config.rope_scaling();
            }
        }
        "preprocessor_config.json" | "processor_config.json" => {
            if let Ok(cfg) = ProcessorConfig::from_dir(dir) {
                plan_images(cfg);
            }
            template(dir);
        }
        "tokenizer_config.json" => {
            let _ = TokenizerConfig::from_file_or_default(&path);
            template(dir);
        }
        "chat_template.json" => template(dir),
        "generation_config.json" => {
            let _ = GenerationConfig::from_dir(dir);
        }
        _ => {
            if let Ok(tokenizer) = Tokenizer::from_dir(dir)
                && let Ok(ids) = tokenizer.encode("Hi <image> 12")
            {
                let _ = tokenizer.decode(&ids, true);
            }
        }
    }
}

/// The sizes every resolution preset gives images under these settings.
fn plan_images(cfg: ProcessorConfig) {
    let processor = ImageProcessor::new(cfg);
    for preset in Resolution::ALL {
        let Ok(p) = processor.with_longest_edge(preset.longest_edge(processor.config())) else {
            continue;
        };
        for (w, h) in SIZES {
            let _ = p.plan(w, h);
        }
    }
}

/// The template the folder's files give, rendered once.
fn template(dir: &std::path::Path) {
    if let Ok(t) = ChatTemplate::from_dir(dir) {
        let _ = t.render(&[Message::text(Role::User, "Hi")], true);
    }
}
