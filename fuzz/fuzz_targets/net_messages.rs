#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dbc_fuzz::net_messages(data));
