#![no_main]

libfuzzer_sys::fuzz_target!(init: smolvlm_fuzz::init(), |data: &[u8]| smolvlm_fuzz::api_request(data));
