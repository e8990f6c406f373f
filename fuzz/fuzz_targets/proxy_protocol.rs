//! Fuzz the PROXY protocol parser: any input is a header, `Partial`, or a
//! typed error, never a panic. A complete header's length is within the
//! input and the version's bounds, the same bytes cut to that length parse
//! to the same header, every shorter cut is `Partial`, and `NotProxy` is
//! exactly when `is_possible_prefix` says no.
#![no_main]

use flare_net::proxy_protocol::{
    is_possible_prefix, parse, Limits, ProxyError, Status, Version, V1_MAX_LEN, V2_FIXED_LEN,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (first, data) = data.split_first().unwrap_or((&0, &[]));
    // Small limits sometimes, so the limit paths get exercised too.
    let limits = if first & 1 == 0 {
        Limits::default()
    } else {
        Limits::default()
            .max_v2_len(usize::from(*first) * 2)
            .max_tlvs(usize::from(first >> 4))
    };
    let result = parse(data, &limits);
    assert_eq!(
        matches!(result, Err(ProxyError::NotProxy)),
        !is_possible_prefix(data)
    );
    let Ok(Status::Complete(header)) = result else {
        return;
    };
    assert!(header.len <= data.len());
    match header.version {
        Version::V1 => assert!((15..=V1_MAX_LEN).contains(&header.len)),
        Version::V2 => {
            assert!(
                header.len >= V2_FIXED_LEN && header.len - V2_FIXED_LEN <= limits.get_max_v2_len()
            )
        }
    }
    assert!(header.tlvs.len() <= limits.get_max_tlvs());
    let _ = (
        header.source(),
        header.destination(),
        header.crc32c(),
        header.alpn(),
    );
    if let Some(ssl) = header.ssl() {
        let _ = (ssl.cn(), ssl.version(), ssl.sub_tlvs().count());
    }
    let again = parse(&data[..header.len], &limits);
    assert_eq!(again, Ok(Status::Complete(header.clone())));
    for cut in [0, 1, header.len / 2, header.len - 1] {
        assert_eq!(
            parse(&data[..cut], &limits),
            Ok(Status::Partial),
            "cut at {cut}"
        );
    }
});
