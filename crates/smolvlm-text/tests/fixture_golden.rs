//! Reproduces tests/fixtures/tiny-smolvlm/golden.json (transformers 5.24.0): rendered prompts, expanded prompts
//! and input_ids of all 3 cases, plus decode/stream-decode of the generated ids.

mod common;

use common::{fixture_dir, ids, messages_from_json, read_json};
use smolvlm_text::{ChatTemplate, StreamDecoder, TemplateOrigin, Tokenizer, expand_images};

#[test]
fn golden_cases_prompt_expansion_and_ids() {
    let dir = fixture_dir();
    let golden = read_json(dir.join("golden.json"));
    let image_seq_len = read_json(dir.join("processor_config.json"))["image_seq_len"]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(image_seq_len, 4);
    let template = ChatTemplate::from_dir(&dir).unwrap();
    assert_eq!(template.origin(), &TemplateOrigin::ChatTemplateJson);
    assert_eq!(template.source(), golden["chat_template"].as_str().unwrap());
    let tok = Tokenizer::from_dir(&dir).unwrap();

    let cases = golden["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let id = case["id"].as_u64().unwrap();
        let messages = messages_from_json(&case["messages"]).expect("image/text messages");
        let prompt = template.render(&messages, true).unwrap();
        assert_eq!(prompt, case["prompt"].as_str().unwrap(), "case {id} prompt");
        // The same through the JSON entry point.
        let json = serde_json::to_string(&case["messages"]).unwrap();
        assert_eq!(template.render_json(&json, true).unwrap(), prompt);

        let grids: Vec<(usize, usize)> = case["images_info"]
            .as_array()
            .map(|infos| {
                infos
                    .iter()
                    .map(|i| {
                        (
                            i["rows"].as_u64().unwrap() as usize,
                            i["cols"].as_u64().unwrap() as usize,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let expanded = expand_images(&prompt, &grids, image_seq_len).unwrap();
        assert_eq!(
            expanded,
            case["expanded_prompt"].as_str().unwrap(),
            "case {id} expanded"
        );

        let input_ids = tok.encode(&expanded).unwrap();
        let want = ids(&case["input_ids"]);
        assert_eq!(input_ids, want, "case {id} input_ids");
        assert_eq!(
            input_ids.len() as u64,
            case["n_prompt_tokens"].as_u64().unwrap()
        );
        let image_id = tok.image_token_id().unwrap();
        let n_image = input_ids.iter().filter(|&&i| i == image_id).count() as u64;
        assert_eq!(n_image, case["n_image_tokens"].as_u64().unwrap());

        // decode(input_ids) is the expanded prompt (golden's definition of expanded_prompt).
        assert_eq!(tok.decode(&input_ids, false).unwrap(), expanded);

        let generated = ids(&case["generated_ids"]);
        let text = case["generated_text"].as_str().unwrap();
        assert_eq!(
            tok.decode(&generated, false).unwrap(),
            text,
            "case {id} generated_text"
        );
        let mut dec = StreamDecoder::new(&tok, false);
        let mut streamed = String::new();
        for &g in &generated {
            streamed.extend(dec.push(g).unwrap());
        }
        streamed.extend(dec.finish().unwrap());
        assert_eq!(streamed, text);
    }
}

#[test]
fn fixture_token_ids() {
    let tok = Tokenizer::from_dir(&fixture_dir()).unwrap();
    assert_eq!(tok.global_image_token_id(), Some(49152));
    assert_eq!(tok.row_col_token_id(1, 1), Some(49153));
    assert_eq!(tok.row_col_token_id(6, 6), Some(49153 + 35));
    assert_eq!(tok.fake_token_around_image_id(), Some(49189));
    assert_eq!(tok.image_token_id(), Some(49190));
    assert_eq!(tok.end_of_utterance_id(), Some(49279));
    assert_eq!(tok.token_id("<|im_start|>"), Some(1));
    assert_eq!(tok.token_id("<|im_end|>"), Some(2));
    assert_eq!(tok.eos_token_ids(), vec![49279]);
    assert_eq!(tok.vocab_size(), 49280);
    assert_eq!(tok.special_token("bos_token"), Some("<|im_start|>"));
    assert_eq!(tok.image_token(), "<image>");
    assert!(tok.is_special_id(49190));
    assert!(!tok.is_special_id(198));
    assert!(!tok.cleans_up_tokenization_spaces());
}
