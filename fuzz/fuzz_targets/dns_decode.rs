//! Fuzz the DNS message decoder: any input must decode or fail with a typed error,
//! and whatever decodes must re-encode and decode to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = flare_dns::Message::decode(data) {
        let mut out = Vec::new();
        msg.encode(&mut out).expect("a decoded message re-encodes");
        let again = flare_dns::Message::decode(&out).expect("a re-encoded message decodes");
        assert_eq!(again, msg);
    }
    let _ = flare_dns::Header::decode(data);
});
