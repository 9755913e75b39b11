use rand::{Rng, SeedableRng};

use super::*;

/// A ClientHello message (handshake header included) with GREASE where
/// Chrome puts it: first cipher, first and last extension, first
/// supported version.
fn hello_message() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&[0x03, 0x03]);
    body.extend_from_slice(&[7; 32]);
    body.push(32);
    body.extend_from_slice(&[9; 32]);
    let ciphers: [u16; 4] = [0x2a2a, 0x1301, 0x1302, 0xc02b];
    body.extend_from_slice(&((ciphers.len() * 2) as u16).to_be_bytes());
    for c in ciphers {
        body.extend_from_slice(&c.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]);
    let mut ext = Vec::new();
    let mut push = |kind: u16, data: &[u8]| {
        ext.extend_from_slice(&kind.to_be_bytes());
        ext.extend_from_slice(&(data.len() as u16).to_be_bytes());
        ext.extend_from_slice(data);
    };
    push(0x8a8a, &[]);
    push(
        0x0000,
        &[
            0, 14, 0, 0, 11, b'e', b'x', b'a', b'm', b'p', b'l', b'e', b'.', b'c', b'o', b'm',
        ],
    );
    push(
        0x0010,
        &[
            0, 12, 2, b'h', b'2', 8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1',
        ],
    );
    push(0x000d, &[0, 6, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01]);
    push(0x002b, &[6, 0x1a, 0x1a, 0x03, 0x04, 0x03, 0x03]);
    push(0xfafa, &[0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut msg = vec![1, 0, (body.len() >> 8) as u8, body.len() as u8];
    msg.extend_from_slice(&body);
    msg
}

/// `message` in handshake records of at most `chunk` bytes each.
fn records(message: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for part in message.chunks(chunk) {
        out.extend_from_slice(&[22, 3, 1]);
        out.extend_from_slice(&(part.len() as u16).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

#[test]
fn reads_the_fields_and_skips_grease() {
    let hello = ClientHello::from_flight(&records(&hello_message(), 1 << 14)).unwrap();
    assert_eq!(hello.legacy_version, 0x0303);
    assert_eq!(hello.ciphers, [0x1301, 0x1302, 0xc02b]);
    assert_eq!(hello.extensions, [0x0000, 0x0010, 0x000d, 0x002b]);
    assert_eq!(hello.server_name.as_deref(), Some(&b"example.com"[..]));
    assert_eq!(hello.first_alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(hello.signature_algorithms, [0x0403, 0x0804, 0x0401]);
    assert_eq!(hello.supported_versions, [0x0304, 0x0303]);
}

#[test]
fn a_hello_fragmented_over_records_is_the_same_hello() {
    // RFC 8446 §5.1 allows it; a fingerprint of the first record alone
    // would be evaded by any client that splits its hello.
    let whole = ClientHello::from_flight(&records(&hello_message(), 1 << 14)).unwrap();
    for chunk in [1, 3, 4, 5, 17, 100] {
        let flight = records(&hello_message(), chunk);
        assert_eq!(
            ClientHello::from_flight(&flight).as_ref(),
            Some(&whole),
            "{chunk}"
        );
    }
}

#[test]
fn every_strict_prefix_needs_more_and_the_whole_is_complete() {
    for chunk in [7, 1 << 14] {
        let flight = records(&hello_message(), chunk);
        for n in 0..flight.len() {
            assert_eq!(progress(&flight[..n]), Progress::NeedMore, "{chunk}/{n}");
            assert_eq!(ClientHello::from_flight(&flight[..n]), None);
        }
        assert_eq!(progress(&flight), Progress::Complete);
        // What follows the hello (a client's early bytes) changes nothing.
        let mut more = flight.clone();
        more.extend_from_slice(&[23, 3, 3, 0, 1, 0]);
        assert_eq!(progress(&more), Progress::Complete);
    }
}

#[test]
fn what_is_not_a_client_hello_is_invalid() {
    assert_eq!(progress(b"GET / HTTP/1.1\r\n\r\n"), Progress::Invalid);
    // SSLv2-compatible hello (RFC 5246 appendix E.2).
    assert_eq!(progress(&[0x80, 0x2e, 0x01, 0x03, 0x01]), Progress::Invalid);
    // A handshake that is not a ClientHello.
    assert_eq!(progress(&[22, 3, 1, 0, 4, 2, 0, 0, 0]), Progress::Invalid);
    // Zero-length and over-long records (RFC 8446 §5.1).
    assert_eq!(progress(&[22, 3, 1, 0, 0]), Progress::Invalid);
    assert_eq!(progress(&[22, 3, 1, 0x40, 0x01]), Progress::Invalid);
    // A hello that declares more than the flight cap could ever hold.
    assert_eq!(
        progress(&[22, 3, 1, 0, 4, 1, 0x01, 0, 0]),
        Progress::Invalid
    );
    assert_eq!(
        progress(&[22, 3, 1, 0, 4, 1, 0, 0x40, 0x02]),
        Progress::Invalid
    );
}

#[test]
fn a_flight_that_fills_the_cap_without_a_hello_stops() {
    // 1-byte fragments of a hello larger than what they fit in the cap.
    let mut message = hello_message();
    message.resize(8000, 0);
    message[1..4].copy_from_slice(&[0, (7996 >> 8) as u8, 7996u16 as u8]);
    let flight = records(&message, 1);
    assert!(flight.len() > MAX_FLIGHT);
    assert_eq!(progress(&flight[..MAX_FLIGHT]), Progress::Invalid);
    assert_eq!(progress(&flight), Progress::Invalid);
}

#[test]
fn grease_values_are_exactly_rfc_8701s() {
    let grease: Vec<u16> = (0..=u16::MAX).filter(|v| is_grease(*v)).collect();
    let want: Vec<u16> = (0..16u16)
        .map(|i| (i << 12) | 0x0a00 | (i << 4) | 0x0a)
        .collect();
    assert_eq!(grease, want);
}

/// Hostile input: random bytes, every truncation and random corruptions of
/// valid hellos (lengths that lie, counts that overflow) never panic and
/// never read past the input.
#[test]
fn hostile_input_never_panics() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x6a34);
    let valid = records(&hello_message(), 1 << 14);
    let fragmented = records(&hello_message(), 9);
    for _ in 0..20_000 {
        let len = rng.gen_range(0..600);
        let mut noise: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        if rng.gen_bool(0.5) && noise.len() >= 6 {
            // Make it look like a handshake record to get past the first check.
            noise[..6].copy_from_slice(&[22, 3, 1, 0, (len - 5).min(255) as u8, 1]);
        }
        let _ = ClientHello::from_flight(&noise);
        let _ = progress(&noise);
        for base in [&valid, &fragmented] {
            let mut bad = base.clone();
            for _ in 0..rng.gen_range(1..6) {
                let i = rng.gen_range(0..bad.len());
                bad[i] = rng.gen();
            }
            bad.truncate(rng.gen_range(0..=bad.len()));
            let _ = ClientHello::from_flight(&bad);
            let _ = super::super::ja4::Ja4::from_flight(&bad);
        }
    }
}
