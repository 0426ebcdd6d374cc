#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dbc_fuzz::params_record(data));
