#![no_main]

use dbc_fuzz::harness::Target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| dbc_fuzz::precompile(data, Target::Governance));
