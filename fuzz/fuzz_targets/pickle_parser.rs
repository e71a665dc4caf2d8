#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Filled in by the module's own work.
    let _ = data;
});
