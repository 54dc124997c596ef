//! Signed values against Python Tornado 6.6: the vectors in
//! `fixtures/signed_values.json` were made by `fixtures/signed_values.py` (see its
//! docstring to regenerate them), and every one must come out here as it did there.

use std::collections::BTreeMap;

use serde_json::Value;
use tornado_web::signing::{
    Secret, SignError, Version, create_signed_value, decode_signed_value, get_signature_key_version,
};

const VECTORS: &str = include_str!("fixtures/signed_values.json");

/// A fixture string holds one byte per code point (latin-1).
fn bytes(value: &Value) -> Vec<u8> {
    value
        .as_str()
        .expect("a string")
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("a code point under 256"))
        .collect()
}

fn version(value: &Value) -> Option<Version> {
    match value.as_i64() {
        None => None,
        Some(1) => Some(Version::V1),
        Some(2) => Some(Version::V2),
        Some(other) => panic!("version {other}"),
    }
}

struct Vectors {
    json: Value,
    secrets: BTreeMap<String, Secret>,
}

fn vectors() -> Vectors {
    let json: Value = serde_json::from_str(VECTORS).expect("valid JSON");
    let secrets = json["secrets"]
        .as_object()
        .expect("a secrets table")
        .iter()
        .map(|(name, entry)| {
            let secret = if let Some(key) = entry.get("key") {
                Secret::new(bytes(key))
            } else {
                Secret::versioned(entry["keys"].as_object().expect("keys").iter().map(
                    |(version, key)| (version.parse::<i64>().expect("a key version"), bytes(key)),
                ))
            };
            (name.clone(), secret)
        })
        .collect();
    Vectors { json, secrets }
}

impl Vectors {
    fn cases(&self, kind: &str) -> &[Value] {
        self.json[kind].as_array().expect("a list of cases")
    }

    fn secret(&self, case: &Value) -> &Secret {
        &self.secrets[case["secret"].as_str().expect("a secret name")]
    }
}

#[test]
fn created_values_equal_tornados_byte_for_byte_and_read_back() {
    let vectors = vectors();
    let cases = vectors.cases("creates");
    assert!(cases.len() > 50);
    let mut read = 0;
    for case in cases {
        let secret = vectors.secret(case);
        let name = case["name"].as_str().expect("a name");
        let value = bytes(&case["value"]);
        let clock = case["clock"].as_f64();
        let signed = create_signed_value(
            secret,
            name,
            &value,
            version(&case["version"]),
            clock,
            case["key_version"].as_i64(),
        )
        .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(
            signed.escape_ascii().to_string(),
            bytes(&case["signed"]).escape_ascii().to_string(),
            "{case}"
        );
        let reads_back = match &case["reads_back"] {
            Value::Null => None,
            value => Some(bytes(value)),
        };
        assert_eq!(
            decode_signed_value(secret, name, &signed, None, clock, None),
            reads_back,
            "{case}"
        );
        if reads_back.is_some() {
            read += 1;
        }
    }
    assert!(read > 50, "{read}");
}

#[test]
fn decoding_answers_as_tornado_does() {
    let vectors = vectors();
    let cases = vectors.cases("decodes");
    assert!(cases.len() > 900);
    let (mut accepted, mut rejected) = (0, 0);
    for case in cases {
        let expected = match &case["expected"] {
            Value::Null => None,
            value => Some(bytes(value)),
        };
        let got = decode_signed_value(
            vectors.secret(case),
            case["name"].as_str().expect("a name"),
            bytes(&case["signed"]),
            match &case["max_age_days"] {
                Value::String(inf) if inf == "inf" => Some(f64::INFINITY),
                days => days.as_f64(),
            },
            case["clock"].as_f64(),
            version(&case["min_version"]),
        );
        assert_eq!(got, expected, "{case}");
        if expected.is_some() {
            accepted += 1;
        } else {
            rejected += 1;
        }
    }
    // Both answers are well represented, so neither `None` nor a stub passes.
    assert!(accepted > 100 && rejected > 800, "{accepted} {rejected}");
}

#[test]
fn key_versions_read_as_tornado_reads_them() {
    let vectors = vectors();
    for case in vectors.cases("key_versions") {
        assert_eq!(
            get_signature_key_version(bytes(&case["value"])),
            case["expected"].as_i64(),
            "{case}"
        );
    }
}

#[test]
fn round_trip_across_versions_and_keys() {
    let single = Secret::new("s3cr3t");
    let keyed = Secret::versioned([(0, "zero"), (1, "one")]);
    let clock = Some(1_700_000_000.0);
    for value in [&b""[..], b"x", b"a|b:c", &[0, 255, 10, 124]] {
        for v in [Version::V1, Version::V2] {
            let signed = create_signed_value(&single, "n", value, Some(v), clock, None).unwrap();
            assert_eq!(
                decode_signed_value(&single, "n", &signed, None, clock, None).as_deref(),
                Some(value)
            );
            assert_eq!(
                get_signature_key_version(&signed),
                (v == Version::V2).then_some(0)
            );
        }
        for key_version in [0, 1] {
            let signed =
                create_signed_value(&keyed, "n", value, None, clock, Some(key_version)).unwrap();
            assert_eq!(get_signature_key_version(&signed), Some(key_version));
            assert_eq!(
                decode_signed_value(&keyed, "n", &signed, None, clock, None).as_deref(),
                Some(value)
            );
            // The other key does not read it.
            let other = Secret::versioned([(key_version, "not it")]);
            assert_eq!(
                decode_signed_value(&other, "n", &signed, None, clock, None),
                None
            );
        }
    }
}

#[test]
fn a_non_ascii_name_is_prefixed_with_its_length_in_bytes() {
    let secret = Secret::new("k");
    let clock = Some(1_700_000_000.0);
    let signed = create_signed_value(&secret, "caf\u{e9}", "v", None, clock, None).unwrap();
    // Python Tornado reads this value back as b"v" (its own `create_signed_value`
    // writes "4:caf\u{e9}", which neither side can read).
    let expected = "2|1:0|10:1700000000|5:caf\u{e9}|4:dg==|\
                    3ace651053277d171ccb03982723c3c574a690350b31128e87e72f86f208e986";
    assert_eq!(signed, expected.as_bytes());
    assert_eq!(
        decode_signed_value(&secret, "caf\u{e9}", &signed, None, clock, None),
        Some(b"v".to_vec())
    );
}

#[test]
fn signing_errors_where_tornado_asserts() {
    let keyed = Secret::versioned([(3, "three")]);
    let clock = Some(1.0);
    assert_eq!(
        create_signed_value(&keyed, "n", "v", Some(Version::V1), clock, Some(3)),
        Err(SignError::VersionedSecretNeedsV2)
    );
    assert_eq!(
        create_signed_value(&keyed, "n", "v", None, clock, None),
        Err(SignError::MissingKeyVersion)
    );
    assert_eq!(
        create_signed_value(&keyed, "n", "v", None, clock, Some(4)),
        Err(SignError::UnknownKeyVersion(4))
    );
    assert!(create_signed_value(&keyed, "n", "v", None, clock, Some(3)).is_ok());
}

/// xorshift64*, so the garbage is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn garbage_never_panics_and_never_verifies() {
    let single = Secret::new("fuzz");
    let keyed = Secret::versioned([(0, "fuzz"), (-1, "minus")]);
    let clock = Some(1_300_000_000.0);
    let seeds: Vec<Vec<u8>> = [Version::V1, Version::V2]
        .into_iter()
        .map(|v| create_signed_value(&single, "n", "payload", Some(v), clock, None).unwrap())
        .chain([create_signed_value(&keyed, "n", "payload", None, clock, Some(0)).unwrap()])
        .collect();
    let alphabet = b"0123456789abcdef|:=+-_ \n\x0bYWJj\x00\xff";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let check = |value: &[u8]| {
        for secret in [&single, &keyed] {
            for min_version in [None, Some(Version::V2)] {
                if let Some(decoded) =
                    decode_signed_value(secret, "n", value, Some(1e300), clock, min_version)
                {
                    // Only a seed itself (or one a lenient reading maps onto it) verifies.
                    assert_eq!(decoded, b"payload", "{}", value.escape_ascii());
                }
            }
        }
        let _ = get_signature_key_version(value);
    };
    for seed in &seeds {
        for end in 0..=seed.len() {
            check(&seed[..end]);
            check(&seed[end..]);
        }
    }
    for _ in 0..20_000 {
        let mut value = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(value.len() + 1);
            match rng.below(4) {
                0 if at < value.len() => value[at] = alphabet[rng.below(alphabet.len())],
                1 => value.insert(at, alphabet[rng.below(alphabet.len())]),
                2 if at < value.len() => {
                    value.remove(at);
                }
                _ => value.truncate(at),
            }
        }
        check(&value);
        let random: Vec<u8> = (0..rng.below(80)).map(|_| rng.next() as u8).collect();
        check(&random);
        let mut prefixed = b"2|".to_vec();
        prefixed.extend((0..rng.below(80)).map(|_| alphabet[rng.below(alphabet.len())]));
        check(&prefixed);
    }
}
