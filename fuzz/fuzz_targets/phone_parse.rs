// fuzz-target: pending (the otp-shared module is not written yet; scripts/fuzz.sh skips this target)
#![no_main]
libfuzzer_sys::fuzz_target!(|_data: &[u8]| {});
