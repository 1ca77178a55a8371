#![no_main]
// Seeded from jpeg files (scripts/fuzz-smoke.sh); the decoder is picked by content.
libfuzzer_sys::fuzz_target!(|data: &[u8]| folio_fuzz::images(data));
