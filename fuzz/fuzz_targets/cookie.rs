//! `parse_cookie` on arbitrary text: never panics, and every cookie comes
//! from one `;`-separated chunk of the header (a quoted value may still
//! hold a `;` written as the octal escape `\073`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tornado_httpserver::httputil::parse_cookie;

fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);
    let cookies = parse_cookie(&header);
    assert!(cookies.len() <= header.matches(';').count() + 1);
    for (name, value) in &cookies {
        assert!(!name.contains(';'));
        assert_eq!(name.trim(), name);
        assert!(name.len() + value.len() <= header.len());
    }
});
