//! Arbitrary bytes as an HTTP/1.1 response, read as the native exchange reads one (see
//! `loadtest_runtime::__private::fuzz_response`): it must never panic, and never consume or
//! produce more than it was given.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    loadtest_runtime::__private::fuzz_response(data);
});
