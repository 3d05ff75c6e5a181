//! What the test files share: one test per fuzz target, each calling `$run("<target>")`, so a
//! target added to `smolvlm_fuzz::TARGETS` is listed here once for every way it is exercised
//! (`replay.rs` checks that the corpora and the targets agree).

macro_rules! test_each_target {
    ($run:ident) => {
        #[test]
        fn image() {
            $run("image");
        }
        #[test]
        fn gguf() {
            $run("gguf");
        }
        #[test]
        fn tokenizer_gguf() {
            $run("tokenizer_gguf");
        }
        #[test]
        fn safetensors_header() {
            $run("safetensors_header");
        }
        #[test]
        fn config_json() {
            $run("config_json");
        }
        #[test]
        fn chat_template() {
            $run("chat_template");
        }
        #[test]
        fn pdf() {
            $run("pdf");
        }
        #[test]
        fn api_request() {
            $run("api_request");
        }
        #[test]
        fn store() {
            $run("store");
        }
    };
}
pub(crate) use test_each_target;
