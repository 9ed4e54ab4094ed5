//! Fuzz target `image`: see `mugaika_fuzz::fuzz_image` and the module it calls.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mugaika_fuzz::fuzz_image(data);
});
