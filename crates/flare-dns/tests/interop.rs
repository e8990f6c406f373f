//! Codec interop with dnslib: we decode what it encodes, and it reads what we encode
//! exactly as it reads its own message.

mod support;

use std::process::Command;

use flare_dns::{Class, Message, Name, RData, Record, RecordType, Soa};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/dnslib_interop.py");

fn dnslib(args: &[&str]) -> String {
    let out = Command::new(support::python())
        .arg(SCRIPT)
        .args(args)
        .output()
        .expect("run dnslib");
    assert!(
        out.status.success(),
        "dnslib: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn rr(owner: &str, ttl: u32, data: RData) -> Record {
    Record {
        name: Name::from_ascii(owner).unwrap(),
        class: Class::IN,
        ttl,
        data,
    }
}

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

#[test]
fn decodes_what_dnslib_encodes_and_dnslib_reads_what_we_encode() {
    let theirs = unhex(dnslib(&["emit"]).trim());
    let m = Message::decode(&theirs).unwrap();
    assert_eq!(m.header.id, 0x5151);
    assert!(m.header.response && m.header.authoritative && m.header.recursion_available);
    assert_eq!(m.questions[0].name, n("example.org"));
    assert_eq!(m.questions[0].qtype, RecordType::ANY);
    let want_answers = vec![
        rr("example.org", 60, RData::A("192.0.2.1".parse().unwrap())),
        rr(
            "example.org",
            61,
            RData::Aaaa("2001:db8::1".parse().unwrap()),
        ),
        rr("www.example.org", 62, RData::Cname(n("example.org"))),
        rr(
            "example.org",
            63,
            RData::Mx {
                preference: 10,
                exchange: n("mail.example.org"),
            },
        ),
        rr(
            "example.org",
            64,
            RData::Txt(vec![b"one".to_vec(), b"two words".to_vec()]),
        ),
        rr(
            "_sip._udp.example.org",
            65,
            RData::Srv {
                priority: 5,
                weight: 6,
                port: 5060,
                target: n("sip.example.org"),
            },
        ),
        rr("1.2.0.192.in-addr.arpa", 66, RData::Ptr(n("example.org"))),
        rr(
            "example.org",
            67,
            RData::Unknown {
                rtype: RecordType(65280),
                data: vec![1, 2, 3],
            },
        ),
    ];
    assert_eq!(m.answers, want_answers);
    assert_eq!(
        m.authorities,
        vec![
            rr("example.org", 68, RData::Ns(n("ns1.example.org"))),
            rr(
                "example.org",
                69,
                RData::Soa(Soa {
                    mname: n("ns1.example.org"),
                    rname: n("admin.example.org"),
                    serial: 2024,
                    refresh: 3600,
                    retry: 600,
                    expire: 86400,
                    minimum: 300,
                }),
            ),
        ]
    );
    assert_eq!(
        m.additionals,
        vec![rr(
            "ns1.example.org",
            70,
            RData::A("192.0.2.53".parse().unwrap())
        )]
    );
    assert_eq!(m.edns.as_ref().unwrap().udp_payload_size, 4096);

    let mut ours = Vec::new();
    m.encode(&mut ours).unwrap();
    assert_eq!(
        dnslib(&["parse", &hex(&ours)]),
        dnslib(&["parse", &hex(&theirs)])
    );
}
