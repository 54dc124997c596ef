//! `parse_body_arguments` on a multipart body and on a urlencoded one.
//!
//! Input layout: the first line (up to `\n`) is what follows `boundary=` in
//! the content type; the rest is the multipart body. The whole input is
//! also parsed as a urlencoded body.
//!
//! Besides never panicking, the multipart result must match a plain
//! reference of Tornado's algorithm written below (naive searches, no
//! limits on work), with the same outcome, values and files, and the
//! same limits applied.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tornado_httpserver::httputil::{
    Arguments, Files, HttpFile, HttpHeaders, MAX_BOUNDARY_LEN, ParseBodyConfig,
    parse_body_arguments, parse_body_arguments_with, parse_header,
};

fuzz_target!(|data: &[u8]| {
    let (line, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let content_type = format!(
        "multipart/form-data; boundary={}",
        String::from_utf8_lossy(line)
    );
    let body = Bytes::copy_from_slice(body);
    let headers = HttpHeaders::new();
    // Small limits, so the fuzzer reaches them.
    let config = ParseBodyConfig {
        max_parts: 4,
        max_part_header_size: 64,
        max_arguments: 8,
        ..Default::default()
    };

    for config in [ParseBodyConfig::default(), config] {
        let (mut args, mut files) = (Arguments::new(), Files::new());
        let result = parse_body_arguments_with(
            &config,
            &content_type,
            &body,
            &mut args,
            &mut files,
            &headers,
        );
        let expected = reference(&config, &content_type, &body);
        match (&result, &expected) {
            (Ok(()), Ok((ref_args, ref_files))) => {
                assert_eq!(&args, ref_args);
                assert_eq!(&files, ref_files);
                let parts: usize = args.values().map(Vec::len).sum::<usize>()
                    + files.values().map(Vec::len).sum::<usize>();
                assert!(parts < config.max_parts);
            }
            (Err(err), Err(())) => {
                assert!(err.is_bad_request(), "{err}");
                assert!(args.is_empty() && files.is_empty(), "maps touched on error");
            }
            _ => panic!("parser said {result:?}, reference said {expected:?}"),
        }

        let (mut args, mut files) = (Arguments::new(), Files::new());
        let result = parse_body_arguments_with(
            &config,
            "application/x-www-form-urlencoded",
            &Bytes::copy_from_slice(data),
            &mut args,
            &mut files,
            &headers,
        );
        match result {
            Ok(()) => {
                let values: usize = args.values().map(Vec::len).sum();
                assert!(values <= config.max_arguments);
                assert!(files.is_empty());
                for value in args.values().flatten() {
                    assert!(value.len() <= data.len());
                }
            }
            Err(err) => assert!(err.is_bad_request(), "{err}"),
        }
    }

    // The entry point with the default limits.
    let (mut args, mut files) = (Arguments::new(), Files::new());
    let _ = parse_body_arguments(&content_type, &body, &mut args, &mut files, &headers);
});

type Parsed = (Arguments, Files);

/// Tornado's `parse_body_arguments` for multipart, step by step and
/// without regard to cost, plus the 1 to 70 byte boundary rule.
fn reference(config: &ParseBodyConfig, content_type: &str, data: &Bytes) -> Result<Parsed, ()> {
    let mut fields = content_type.split(';');
    if fields.next().map(str::trim) != Some("multipart/form-data") {
        return Err(());
    }
    let boundary = fields
        .find_map(|field| {
            let (k, v) = field.trim().split_once('=')?;
            (k == "boundary" && !v.is_empty()).then_some(v)
        })
        .ok_or(())?
        .as_bytes();
    // Python's boundary[1:-1], which is empty for a lone quote.
    let boundary = if boundary.starts_with(b"\"") && boundary.ends_with(b"\"") {
        boundary.get(1..boundary.len() - 1).unwrap_or_default()
    } else {
        boundary
    };
    if boundary.is_empty() || boundary.len() > MAX_BOUNDARY_LEN {
        return Err(());
    }
    let final_marker = [b"--", boundary, b"--"].concat();
    let end = naive_rfind(data, &final_marker).ok_or(())?;
    let separator = [b"--", boundary, b"\r\n"].concat();
    let mut pieces = Vec::new();
    let mut start = 0;
    while let Some(i) = naive_find(&data[start..end], &separator) {
        pieces.push(start..start + i);
        start += i + separator.len();
    }
    pieces.push(start..end);
    if pieces.len() > config.max_parts {
        return Err(());
    }
    let (mut args, mut files) = (Arguments::new(), Files::new());
    for piece in pieces {
        let part = data.slice(piece);
        if part.is_empty() {
            continue;
        }
        let eoh = naive_find(&part, b"\r\n\r\n").ok_or(())?;
        if eoh > config.max_part_header_size {
            return Err(());
        }
        let text = std::str::from_utf8(&part[..eoh]).map_err(|_| ())?;
        let headers = HttpHeaders::parse(text).map_err(|_| ())?;
        let (disposition, params) = parse_header(headers.get("Content-Disposition").unwrap_or(""));
        if disposition != "form-data" || !part.ends_with(b"\r\n") {
            return Err(());
        }
        // Python's part[eoh + 4 : -2]: empty when the slice is reversed.
        let value = part.slice((eoh + 4).min(part.len() - 2)..part.len() - 2);
        let name = params.get("name").filter(|n| !n.is_empty()).ok_or(())?;
        match params.get("filename").filter(|f| !f.is_empty()) {
            Some(filename) => files.entry(name.clone()).or_default().push(HttpFile {
                filename: filename.clone(),
                content_type: headers
                    .get("Content-Type")
                    .unwrap_or("application/unknown")
                    .to_string(),
                body: value,
            }),
            None => args.entry(name.clone()).or_default().push(value),
        }
    }
    Ok((args, files))
}

fn naive_find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn naive_rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}
