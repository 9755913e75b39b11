use http::HeaderValue;

use super::*;

/// The request of FoxIO's reference test (rust/ja4/src/http.rs,
/// `test_http_stats_into_out`), field by field as sent.
const CNN: &[(&str, &str)] = &[
    ("Host", "www.cnn.com"),
    ("Cookie", "FastAB=0=6859,1=8174,2=4183,3=3319,4=3917,5=2557,6=4259,7=6070,8=0804,9=6453,10=1942,11=4435,12=4143,13=9445,14=6957,15=8682,16=1885,17=1825,18=3760,19=0929; sato=1; countryCode=US; stateCode=VA; geoData=purcellville|VA|20132|US|NA|-400|broadband|39.160|-77.700|511; usprivacy=1---; umto=1; _dd_s=logs=1&id=b5c2d770-eaba-4847-8202-390c4552ff9a&created=1686159462724&expire=1686160422726"),
    ("Sec-Ch-Ua", ""),
    ("Sec-Ch-Ua-Mobile", "?0"),
    ("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.5735.110 Safari/537.36"),
    ("Sec-Ch-Ua-Platform", "\"\""),
    ("Accept", "*/*"),
    ("Sec-Fetch-Site", "same-origin"),
    ("Sec-Fetch-Mode", "cors"),
    ("Sec-Fetch-Dest", "empty"),
    ("Sec-Fetch-Mode", "cors"),
    ("Sec-Fetch-Dest", "empty"),
    ("Referer", "https://www.cnn.com/"),
    ("Accept-Encoding", "gzip, deflate"),
    ("Accept-Language", "en-US,en;q=0.9"),
];

fn fields(
    list: &'static [(&'static str, &'static str)],
) -> impl Iterator<Item = (&'static str, &'static [u8])> {
    list.iter().map(|(n, v)| (*n, v.as_bytes()))
}

#[test]
fn reference_vector() {
    // The reference prints ge11cr13enus_88d2d584d47f_0f2659b474bf_161698816dab;
    // part d (cookie values) is deliberately not computed.
    let got = Ja4h::of_fields("GET", Version::HTTP_11, fields(CNN));
    assert_eq!(got.as_str(), "ge11cr13enus_88d2d584d47f_0f2659b474bf");
}

#[test]
fn from_a_header_map() {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("shop.example"));
    h.insert("user-agent", HeaderValue::from_static("curl/8.5.0"));
    h.insert("accept", HeaderValue::from_static("*/*"));
    let got = Ja4h::of(&Method::POST, Version::HTTP_2, &h);
    // sha256("host,user-agent,accept")[..12]
    let want_b = hex::encode(Sha256::digest(b"host,user-agent,accept"));
    assert_eq!(
        got.as_str(),
        format!("po20nn030000_{}_000000000000", &want_b[..12])
    );
}

#[test]
fn cookie_and_referer_are_flags_not_headers() {
    let base = Ja4h::of_fields("GET", Version::HTTP_11, fields(&[("Host", "a")]));
    let with = Ja4h::of_fields(
        "GET",
        Version::HTTP_11,
        fields(&[("Host", "a"), ("cookie", "b=1"), ("REFERER", "https://x/")]),
    );
    assert_eq!(&base.as_str()[..4], "ge11");
    assert_eq!(&base.as_str()[4..6], "nn");
    assert_eq!(&with.as_str()[4..6], "cr");
    // Same header list and count.
    assert_eq!(&with.as_str()[6..25], &base.as_str()[6..25]);
    assert_ne!(&with.as_str()[26..], "000000000000");
}

#[test]
fn header_order_is_part_of_it_and_cookie_order_is_not() {
    let a = Ja4h::of_fields(
        "GET",
        Version::HTTP_11,
        fields(&[("Host", "a"), ("Accept", "*/*"), ("Cookie", "x=1; y=2")]),
    );
    let b = Ja4h::of_fields(
        "GET",
        Version::HTTP_11,
        fields(&[("Accept", "*/*"), ("Host", "a"), ("Cookie", "y=3;x=4")]),
    );
    assert_ne!(&a.as_str()[13..25], &b.as_str()[13..25]);
    assert_eq!(&a.as_str()[26..], &b.as_str()[26..]);
    // HTTP/2 may split cookies over fields (RFC 9113 §8.2.3).
    let c = Ja4h::of_fields(
        "GET",
        Version::HTTP_2,
        fields(&[("cookie", "y=3"), ("cookie", "x=4")]),
    );
    assert_eq!(&a.as_str()[26..], &c.as_str()[26..]);
}

#[test]
fn languages() {
    let cases: &[(&[u8], &[u8; 4])] = &[
        (b"en-US,en;q=0.9", b"enus"),
        (b"da, en-GB;q=0.8, en;q=0.7", b"da00"),
        (b"en;q=0.9", b"en00"),
        (b" fr-CH, fr;q=0.9", b"frch"),
        (b"zh-Hant-TW", b"zhha"),
        (b"*", b"*000"),
        (b"", b"0000"),
        (b"\xff\xfe", b"0000"),
    ];
    for (value, want) in cases {
        assert_eq!(&primary_language(value), *want, "{value:?}");
    }
}

#[test]
fn odd_methods_and_pseudo_fields_stay_well_formed() {
    let got = Ja4h::of_fields(
        "M",
        Version::HTTP_09,
        fields(&[(":authority", "x"), ("x", "y")]),
    );
    assert_eq!(&got.as_str()[..12], "m000nn010000");
    assert!(HeaderValue::from_str(got.as_str()).is_ok());
    let many: Vec<(&str, &[u8])> = (0..150).map(|_| ("a", &b""[..])).collect();
    let got = Ja4h::of_fields("GET", Version::HTTP_11, many);
    assert_eq!(&got.as_str()[6..8], "99");
}
