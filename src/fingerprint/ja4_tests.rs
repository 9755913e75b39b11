use super::*;

/// FoxIO's published captures and the JA4 their reference implementation
/// prints for each (see the file's header).
const VECTORS: &str = include_str!("testdata/ja4_vectors.txt");

fn vectors() -> impl Iterator<Item = (&'static str, &'static str, Vec<u8>)> {
    VECTORS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 4, "vector line: {l}");
            (f[0], f[2], hex::decode(f[3]).expect("hex"))
        })
}

#[test]
fn published_vectors_match_the_reference() {
    let mut n = 0;
    for (pcap, expected, flight) in vectors() {
        let got = Ja4::from_flight(&flight).map(|j| j.to_string());
        assert_eq!(got.as_deref(), Some(expected), "{pcap}");
        n += 1;
    }
    // TLS 1.0 / 1.2 / 1.3; ALPN h2, http/1.1, none and non-ASCII; no
    // extensions beyond SNI (twelve zeros); with and without
    // supported_versions.
    assert!(n >= 10, "only {n} vectors");
}

/// The spec's worked example (JA4.md, "Cipher hash" to "Example").
fn spec_example() -> ClientHello {
    ClientHello {
        legacy_version: 0x0303,
        ciphers: vec![
            0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
            0x009c, 0x009d, 0x002f, 0x0035,
        ],
        extensions: vec![
            0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012,
            0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
        ],
        server_name: Some(b"example.com".to_vec()),
        first_alpn: Some(b"h2".to_vec()),
        signature_algorithms: vec![
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ],
        supported_versions: vec![0x0304, 0x0303],
    }
}

#[test]
fn spec_worked_example() {
    let ja4 = Ja4::of(&spec_example());
    assert_eq!(ja4.as_str(), "t13d1516h2_8daaf6152771_e5627efa2ab1");
}

#[test]
fn no_signature_algorithms_means_no_underscore() {
    // JA4.md: "0005,...,ff01 = 6d807ffa2a79".
    let mut hello = spec_example();
    hello.signature_algorithms.clear();
    assert_eq!(&Ja4::of(&hello).as_str()[24..], "6d807ffa2a79");
}

#[test]
fn empty_lists_are_twelve_zeros() {
    let hello = ClientHello {
        legacy_version: 0x0301,
        ..ClientHello::default()
    };
    assert_eq!(
        Ja4::of(&hello).as_str(),
        "t10i000000_000000000000_000000000000"
    );
}

#[test]
fn version_is_the_highest_supported_version() {
    let mut hello = spec_example();
    hello.supported_versions = vec![0x0302, 0x0304, 0x0303];
    assert_eq!(&Ja4::of(&hello).as_str()[1..3], "13");
    hello.supported_versions.clear();
    assert_eq!(&Ja4::of(&hello).as_str()[1..3], "12");
    hello.legacy_version = 0x0300;
    assert_eq!(&Ja4::of(&hello).as_str()[1..3], "s3");
    hello.legacy_version = 0x1234;
    assert_eq!(&Ja4::of(&hello).as_str()[1..3], "00");
}

#[test]
fn counts_are_capped_at_99() {
    let mut hello = spec_example();
    hello.ciphers = (1..=150).collect();
    hello.extensions = (0x100..0x100 + 120).collect();
    assert_eq!(&Ja4::of(&hello).as_str()[4..8], "9999");
}

#[test]
fn alpn_characters_follow_the_spec_table() {
    // JA4.md, "ALPN Extension Value".
    let cases: &[(&[u8], &str)] = &[
        (b"h2", "h2"),
        (b"http/1.1", "h1"),
        (b"h", "hh"),
        (b"", "00"),
        (&[0xab], "ab"),
        (&[0x20], "20"),
        (&[0xab, 0xcd], "ad"),
        (&[0x20, 0x61], "21"),
        (&[0x30, 0xab], "3b"),
        (&[0x61, 0x20], "60"),
        (&[0x30, 0x31, 0xab, 0xcd], "3d"),
        (&[0x30, 0xab, 0xcd, 0x31], "01"),
    ];
    for (value, want) in cases {
        assert_eq!(alpn(Some(value)), want.as_bytes(), "{value:02x?}");
    }
    assert_eq!(alpn(None), *b"00");
}

#[test]
fn extension_order_does_not_change_the_fingerprint() {
    let a = Ja4::of(&spec_example());
    let mut shuffled = spec_example();
    shuffled.extensions.reverse();
    shuffled.ciphers.rotate_left(5);
    assert_eq!(Ja4::of(&shuffled), a);
    // But the signature algorithms' order is part of it.
    shuffled.signature_algorithms.swap(0, 1);
    assert_ne!(Ja4::of(&shuffled), a);
}

#[test]
fn sni_and_alpn_only_show_in_part_a() {
    let a = Ja4::of(&spec_example());
    let mut ip = spec_example();
    ip.extensions.retain(|e| *e != EXT_SERVER_NAME);
    ip.first_alpn = Some(b"http/1.1".to_vec());
    let b = Ja4::of(&ip);
    assert_eq!(&b.as_str()[..10], "t13i1515h1");
    assert_eq!(&b.as_str()[10..], &a.as_str()[10..]);
}
