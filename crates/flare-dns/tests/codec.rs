//! Message codec: table-driven malformed inputs and proptest round-trips.

use std::net::{Ipv4Addr, Ipv6Addr};

use flare_dns::{
    Class, DecodeError, Edns, EdnsOption, EncodeError, Header, Message, Name, Opcode, Question,
    RData, Record, RecordType, Section, Soa,
};
use proptest::prelude::*;

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn rec(owner: &str, data: RData) -> Record {
    Record {
        name: name(owner),
        class: Class::IN,
        ttl: 300,
        data,
    }
}

fn sample() -> Message {
    let mut m = Message::query(0xBEEF, name("www.example.com"), RecordType::A, Some(1232));
    m.header.response = true;
    m.header.recursion_available = true;
    m.answers = vec![
        rec("www.example.com", RData::Cname(name("web.example.com"))),
        rec("web.example.com", RData::A(Ipv4Addr::new(192, 0, 2, 1))),
        rec("web.example.com", RData::Aaaa(Ipv6Addr::LOCALHOST)),
        rec(
            "example.com",
            RData::Mx {
                preference: 10,
                exchange: name("mail.example.com"),
            },
        ),
        rec(
            "example.com",
            RData::Txt(vec![b"v=spf1 -all".to_vec(), Vec::new()]),
        ),
        rec(
            "_http._tcp.example.com",
            RData::Srv {
                priority: 1,
                weight: 2,
                port: 80,
                target: name("web.example.com"),
            },
        ),
        rec(
            "1.2.0.192.in-addr.arpa",
            RData::Ptr(name("web.example.com")),
        ),
        rec(
            "example.com",
            RData::Unknown {
                rtype: RecordType(65280),
                data: vec![1, 2, 3],
            },
        ),
    ];
    m.authorities = vec![
        rec("example.com", RData::Ns(name("ns1.example.com"))),
        rec(
            "example.com",
            RData::Soa(Soa {
                mname: name("ns1.example.com"),
                rname: name("hostmaster.example.com"),
                serial: 2024010101,
                refresh: 3600,
                retry: 600,
                expire: 86400,
                minimum: 60,
            }),
        ),
    ];
    m.additionals = vec![rec(
        "ns1.example.com",
        RData::A(Ipv4Addr::new(192, 0, 2, 53)),
    )];
    m.edns.as_mut().unwrap().options.push(EdnsOption {
        code: 10,
        data: vec![7; 8],
    });
    m
}

#[test]
fn sample_round_trips_and_compresses() {
    let m = sample();
    let mut out = Vec::new();
    m.encode(&mut out).unwrap();
    assert_eq!(Message::decode(&out).unwrap(), m);
    // "example.com" is an owner or target a dozen times; with compression its labels
    // are written once, plus once more inside the SRV target, which RFC 2782 says must
    // not be compressed.
    let needle = b"\x07example\x03com\x00";
    let copies = out.windows(needle.len()).filter(|w| w == needle).count();
    assert_eq!(copies, 2, "{out:?}");
    let srv_target = b"\x03web\x07example\x03com\x00";
    assert!(out.windows(srv_target.len()).any(|w| w == srv_target));
}

#[test]
fn encode_after_a_prefix_keeps_offsets_message_relative() {
    let m = sample();
    let mut out = vec![0, 0];
    m.encode(&mut out).unwrap();
    assert_eq!(Message::decode(&out[2..]).unwrap(), m);
}

#[test]
fn edns_fields_and_extended_rcode() {
    let mut m = sample();
    let e = m.edns.as_mut().unwrap();
    e.extended_rcode = 1;
    e.dnssec_ok = true;
    m.header.rcode_low = 0;
    let mut out = Vec::new();
    m.encode(&mut out).unwrap();
    let d = Message::decode(&out).unwrap();
    assert_eq!(d.rcode(), flare_dns::Rcode::BADVERS);
    assert_eq!(d.edns.as_ref().unwrap().udp_payload_size, 1232);
    assert!(d.edns.unwrap().dnssec_ok);
}

/// The header of a response with the given counts.
fn header(qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    let mut v = vec![0x12, 0x34, 0x81, 0x80];
    for c in [qd, an, ns, ar] {
        v.extend_from_slice(&c.to_be_bytes());
    }
    v
}

#[test]
fn malformed_messages_are_typed_errors() {
    let q = |mut h: Vec<u8>, tail: &[u8]| {
        h.extend_from_slice(tail);
        h
    };
    // A question for "a." type A class IN.
    let question = [1, b'a', 0, 0, 1, 0, 1];
    // An A record owned by a pointer to the question name at offset 12.
    let a_rr = |rdlen: u16, rdata: &[u8]| {
        let mut v = vec![0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60];
        v.extend_from_slice(&rdlen.to_be_bytes());
        v.extend_from_slice(rdata);
        v
    };
    let opt = [0u8, 0, 41, 4, 0xD0, 0, 0, 0, 0, 0, 0];
    let cases: Vec<(&str, Vec<u8>, DecodeError)> = vec![
        (
            "short header",
            vec![0x12, 0x34, 0x81],
            DecodeError::Truncated { offset: 2 },
        ),
        (
            "question count beyond message",
            q(header(3, 0, 0, 0), &question),
            DecodeError::CountTooLarge {
                section: Section::Question,
                count: 3,
            },
        ),
        (
            "answer count beyond message",
            q(header(1, 65535, 0, 0), &question),
            DecodeError::CountTooLarge {
                section: Section::Answer,
                count: 65535,
            },
        ),
        (
            "rdlength beyond message",
            q(q(header(1, 1, 0, 0), &question), &a_rr(200, &[1, 2, 3, 4])),
            DecodeError::BadRdataLength {
                offset: 31,
                rtype: 1,
            },
        ),
        (
            "A with 3 bytes",
            q(q(header(1, 1, 0, 0), &question), &a_rr(3, &[1, 2, 3])),
            DecodeError::BadRdataLength {
                offset: 31,
                rtype: 1,
            },
        ),
        (
            "A with 5 bytes",
            q(q(header(1, 1, 0, 0), &question), &a_rr(5, &[1, 2, 3, 4, 5])),
            DecodeError::BadRdataLength {
                offset: 31,
                rtype: 1,
            },
        ),
        (
            "trailing bytes",
            q(q(header(1, 0, 0, 0), &question), &[0]),
            DecodeError::TrailingBytes { offset: 19 },
        ),
        (
            "OPT in the answer section",
            q(q(header(1, 1, 0, 0), &question), &opt),
            DecodeError::BadOpt { offset: 19 },
        ),
        (
            "two OPT records",
            q(q(q(header(1, 0, 0, 2), &question), &opt), &opt),
            DecodeError::BadOpt { offset: 30 },
        ),
        (
            "pointer loop in owner",
            q(
                q(header(1, 1, 0, 0), &question),
                &[0xC0, 19, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0],
            ),
            DecodeError::PointerNotBackward { offset: 19 },
        ),
        (
            "label running past the message",
            q(header(1, 0, 0, 0), &[5, b'a', b'b']),
            DecodeError::CountTooLarge {
                section: Section::Question,
                count: 1,
            },
        ),
        (
            "label running past the question",
            q(header(1, 0, 0, 0), &[9, b'a', b'b', 0, 0, 0, 0]),
            DecodeError::Truncated { offset: 12 },
        ),
        (
            "name inside rdata running past rdlength",
            q(
                q(header(1, 1, 0, 0), &question),
                &[
                    0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 0, 0, 2, 3, b'a', b'b', b'c', 0,
                ],
            ),
            DecodeError::Truncated { offset: 31 },
        ),
        (
            "TXT string longer than rdata",
            q(
                q(header(1, 1, 0, 0), &question),
                &[0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 0, 0, 2, 5, b'a'],
            ),
            DecodeError::Truncated { offset: 32 },
        ),
        (
            "reserved label type",
            q(header(1, 0, 0, 0), &[0x80, 0, 0, 1, 0, 1]),
            DecodeError::BadLabelType {
                offset: 12,
                byte: 0x80,
            },
        ),
    ];
    for (what, bytes, want) in cases {
        assert_eq!(Message::decode(&bytes), Err(want), "{what}");
    }
}

#[test]
fn encode_limits_are_errors() {
    let mut m = Message::query(1, name("a"), RecordType::TXT, None);
    m.answers.push(rec("a", RData::Txt(vec![vec![0; 256]])));
    assert_eq!(
        m.encode(&mut Vec::new()),
        Err(EncodeError::TxtStringTooLong { len: 256 })
    );

    let mut m = Message::query(1, name("a"), RecordType::TXT, None);
    m.answers.push(rec(
        "a",
        RData::Unknown {
            rtype: RecordType(999),
            data: vec![0; 70_000],
        },
    ));
    assert_eq!(
        m.encode(&mut Vec::new()),
        Err(EncodeError::RdataTooLong { rtype: 999 })
    );

    let mut m = Message::query(1, name("a"), RecordType::A, None);
    m.answers = vec![
        rec(
            "a",
            RData::Unknown {
                rtype: RecordType(999),
                data: vec![0; 60_000]
            }
        );
        2
    ];
    let mut out = vec![9];
    assert_eq!(m.encode(&mut out), Err(EncodeError::MessageTooLong));
    assert_eq!(out, vec![9], "a failed encode leaves the buffer as it was");

    let mut m = Message::query(1, name("a"), RecordType::A, None);
    m.questions = vec![m.questions[0].clone(); 65536];
    assert_eq!(
        m.encode(&mut Vec::new()),
        Err(EncodeError::TooManyEntries {
            section: Section::Question
        })
    );
}

fn arb_name() -> impl Strategy<Value = Name> {
    prop::collection::vec("[a-zA-Z0-9-]{1,12}", 0..5).prop_map(|labels| {
        if labels.is_empty() {
            Name::root()
        } else {
            Name::from_ascii(&labels.join(".")).unwrap()
        }
    })
}

fn arb_rdata() -> impl Strategy<Value = RData> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| RData::A(o.into())),
        any::<[u8; 16]>().prop_map(|o| RData::Aaaa(o.into())),
        arb_name().prop_map(RData::Cname),
        arb_name().prop_map(RData::Ns),
        arb_name().prop_map(RData::Ptr),
        (any::<u16>(), arb_name()).prop_map(|(preference, exchange)| RData::Mx {
            preference,
            exchange
        }),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..4).prop_map(RData::Txt),
        (any::<u16>(), any::<u16>(), any::<u16>(), arb_name()).prop_map(
            |(priority, weight, port, target)| RData::Srv {
                priority,
                weight,
                port,
                target
            }
        ),
        (arb_name(), arb_name(), any::<[u32; 5]>()).prop_map(|(mname, rname, v)| RData::Soa(Soa {
            mname,
            rname,
            serial: v[0],
            refresh: v[1],
            retry: v[2],
            expire: v[3],
            minimum: v[4],
        })),
        (1000u16..60000, prop::collection::vec(any::<u8>(), 0..40)).prop_map(|(t, data)| {
            RData::Unknown {
                rtype: RecordType(t),
                data,
            }
        }),
    ]
}

fn arb_record() -> impl Strategy<Value = Record> {
    (arb_name(), any::<u16>(), any::<u32>(), arb_rdata()).prop_map(|(name, class, ttl, data)| {
        Record {
            name,
            class: Class(class),
            ttl,
            data,
        }
    })
}

fn arb_edns() -> impl Strategy<Value = Option<Edns>> {
    prop::option::of(
        (
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            any::<bool>(),
            0u16..0x8000,
            prop::collection::vec(
                (any::<u16>(), prop::collection::vec(any::<u8>(), 0..16)),
                0..3,
            ),
        )
            .prop_map(|(size, ext, version, dnssec_ok, other_flags, opts)| Edns {
                udp_payload_size: size,
                extended_rcode: ext,
                version,
                dnssec_ok,
                other_flags,
                options: opts
                    .into_iter()
                    .map(|(code, data)| EdnsOption { code, data })
                    .collect(),
            }),
    )
}

fn arb_message() -> impl Strategy<Value = Message> {
    (
        any::<(u16, u16)>(),
        prop::collection::vec((arb_name(), any::<u16>(), any::<u16>()), 0..3),
        prop::collection::vec(arb_record(), 0..6),
        prop::collection::vec(arb_record(), 0..3),
        prop::collection::vec(arb_record(), 0..3),
        arb_edns(),
    )
        .prop_map(
            |((id, flags), qs, answers, authorities, additionals, edns)| {
                let mut header = Header::query(id);
                header.response = flags & 1 != 0;
                header.opcode = Opcode(((flags >> 1) & 0xF) as u8);
                header.authoritative = flags & 0x20 != 0;
                header.truncated = flags & 0x40 != 0;
                header.recursion_desired = flags & 0x80 != 0;
                header.recursion_available = flags & 0x100 != 0;
                header.z = flags & 0x200 != 0;
                header.authentic_data = flags & 0x400 != 0;
                header.checking_disabled = flags & 0x800 != 0;
                header.rcode_low = (flags >> 12) as u8;
                Message {
                    header,
                    questions: qs
                        .into_iter()
                        .map(|(name, t, c)| Question {
                            name,
                            qtype: RecordType(t),
                            qclass: Class(c),
                        })
                        .collect(),
                    answers,
                    authorities,
                    additionals,
                    edns,
                }
            },
        )
}

proptest! {
    #[test]
    fn encode_decode_round_trip(m in arb_message()) {
        // RecordType(41) in a question is fine; records never carry OPT from arb_rdata.
        let mut out = Vec::new();
        m.encode(&mut out).unwrap();
        prop_assert_eq!(Message::decode(&out).unwrap(), m);
    }

    #[test]
    fn decode_never_panics_on_noise(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(m) = Message::decode(&bytes) {
            // Whatever decodes re-encodes and decodes to the same message.
            let mut out = Vec::new();
            m.encode(&mut out).unwrap();
            prop_assert_eq!(Message::decode(&out).unwrap(), m);
        }
    }

    #[test]
    fn decode_never_panics_on_mutations(m in arb_message(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>()) {
        let mut out = Vec::new();
        m.encode(&mut out).unwrap();
        for (i, b) in flips {
            let i = i.index(out.len());
            out[i] = b;
        }
        let _ = Message::decode(&out);
        let keep = cut.index(out.len() + 1);
        let _ = Message::decode(&out[..keep]);
    }
}
