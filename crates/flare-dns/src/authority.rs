//! Authoritative answers from one [`Zone`]: bytes of a query in, bytes of the
//! response out, sans-IO (the caller owns the sockets).
//!
//! Every answer the zone can give is encoded once, when the [`Authority`] is built:
//! for each owner name and type, the answer, authority and additional sections after
//! the question (names compressed against the question name, which has the same
//! length whatever its case). A query then costs one decode, one hash lookup and a
//! copy: header, the question as asked, the pre-encoded sections, and an OPT record
//! if the query had one.
//!
//! What it answers (RFC 1034 4.3.2, RFC 2308, RFC 6891):
//!
//! - the records of the asked type at the name, AA set (ANY: every record there);
//! - a CNAME at the name for any other type, followed inside the zone (at most 8
//!   links) with the target's records of the asked type;
//! - NOERROR with no answer (NODATA) when the name exists (or is an empty
//!   non-terminal) without that type, NXDOMAIN when it does not; both with the SOA in
//!   the authority section, its TTL the lesser of the SOA's TTL and MINIMUM;
//! - A and AAAA of in-zone MX exchanges and NS hosts in the additional section;
//! - REFUSED for names outside the zone, classes other than IN (and ANY), and zone
//!   transfers; NOTIMP for opcodes other than QUERY; FORMERR for a message that does
//!   not decode or does not hold exactly one question; BADVERS for EDNS versions
//!   above 0. Responses (QR set) and messages shorter than a header get no answer.
//! - Over UDP an answer longer than 512 bytes, or than the query's EDNS payload size
//!   (capped at [`Authority::max_udp_payload`]), is replaced by its header and
//!   question with TC set, so the client retries over TCP (RFC 1035 4.2.1,
//!   RFC 7766).
//!
//! Not handled: wildcards, delegations below the apex (NS there is answered as
//! data), DNSSEC, DNAME.

use std::collections::HashMap;

use crate::message::{Header, Message, Question, Record, HEADER_LEN};
use crate::name::Name;
use crate::rdata::{Class, RData, RecordType};
use crate::zone::{Zone, ZoneError, ZoneErrorKind};

/// How the query arrived, which bounds the response size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A datagram: 512 bytes, or the query's EDNS payload size.
    Udp,
    /// A TCP stream: up to 65535 bytes (the caller adds the length prefix).
    Tcp,
}

const MAX_CNAME_CHAIN: usize = 8;
const RCODE_FORMERR: u8 = 1;
const RCODE_NXDOMAIN: u8 = 3;
const RCODE_NOTIMP: u8 = 4;
const RCODE_REFUSED: u8 = 5;
const AXFR: RecordType = RecordType(252);
const IXFR: RecordType = RecordType(251);

/// The sections after the question, encoded.
#[derive(Clone, Debug)]
struct Template {
    an: u16,
    ns: u16,
    ar: u16,
    body: Vec<u8>,
}

/// What one owner name answers.
#[derive(Clone, Debug)]
struct Entry {
    by_type: Vec<(RecordType, Template)>,
    /// For any other type: NODATA, or the CNAME alone (its target has nothing of
    /// that type).
    other: Template,
    /// The name owns a CNAME, so other types follow it.
    cname: Option<Vec<(RecordType, Template)>>,
}

/// Answers queries for one zone; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Authority {
    origin: Name,
    names: HashMap<Name, Entry>,
    /// The negative-answer SOA record after its owner name: type, class, TTL,
    /// RDLENGTH and RDATA (names uncompressed), for NXDOMAIN.
    soa_tail: Vec<u8>,
    max_udp_payload: u16,
}

impl Authority {
    /// Builds the answers for `zone`, which must hold an SOA at its origin and only
    /// names at or below it.
    pub fn new(zone: Zone) -> Result<Authority, ZoneError> {
        let origin = zone.origin.clone();
        let soa = zone
            .records
            .iter()
            .find(|r| matches!(r.data, RData::Soa(_)) && r.name == origin)
            .cloned()
            .ok_or(ZoneError {
                line: 0,
                kind: ZoneErrorKind::BadRdata("the zone has no SOA at its origin"),
            })?;
        if let Some(r) = zone.records.iter().find(|r| !is_within(&r.name, &origin)) {
            return Err(ZoneError {
                line: 0,
                kind: ZoneErrorKind::BadName(r.name.to_string()),
            });
        }
        let RData::Soa(soa_data) = &soa.data else {
            unreachable!("found as an SOA above")
        };
        let mut negative_soa = soa.clone();
        negative_soa.ttl = soa.ttl.min(soa_data.minimum);

        let mut by_name: HashMap<Name, Vec<Record>> = HashMap::new();
        for r in &zone.records {
            by_name.entry(r.name.clone()).or_default().push(r.clone());
        }
        // Empty non-terminals: every name between an owner and the origin exists.
        let mut all_names: Vec<Name> = by_name.keys().cloned().collect();
        for n in by_name.keys() {
            let mut cur = n.clone();
            while let Some(parent) = parent_of(&cur) {
                if !is_within(&parent, &origin) {
                    break;
                }
                all_names.push(parent.clone());
                cur = parent;
            }
        }
        all_names.sort_by(|a, b| a.as_wire().cmp(b.as_wire()));
        all_names.dedup();

        let build = Builder {
            by_name: &by_name,
            negative_soa: &negative_soa,
        };
        let mut names = HashMap::with_capacity(all_names.len());
        for name in all_names {
            let records = by_name.get(&name).map(Vec::as_slice).unwrap_or(&[]);
            let mut types: Vec<RecordType> = records.iter().map(|r| r.data.rtype()).collect();
            types.sort_by_key(|t| t.0);
            types.dedup();
            let mut by_type = Vec::new();
            for &t in &types {
                let answers: Vec<Record> = records
                    .iter()
                    .filter(|r| r.data.rtype() == t)
                    .cloned()
                    .collect();
                by_type.push((t, build.positive(&name, answers)));
            }
            if !records.is_empty() {
                by_type.push((RecordType::ANY, build.positive(&name, records.to_vec())));
            }
            let cname_rec = records
                .iter()
                .find(|r| matches!(r.data, RData::Cname(_)))
                .cloned();
            let (other, cname) = match cname_rec {
                Some(c) => {
                    let mut chains = Vec::new();
                    for t in [
                        RecordType::A,
                        RecordType::AAAA,
                        RecordType::MX,
                        RecordType::TXT,
                        RecordType::NS,
                        RecordType::SOA,
                    ] {
                        chains.push((t, build.chain(&name, &c, t)));
                    }
                    (build.positive(&name, vec![c]), Some(chains))
                }
                None => (build.nodata(&name), None),
            };
            names.insert(
                name,
                Entry {
                    by_type,
                    other,
                    cname,
                },
            );
        }

        let mut soa_tail = Vec::new();
        soa_tail.extend_from_slice(&RecordType::SOA.0.to_be_bytes());
        soa_tail.extend_from_slice(&Class::IN.0.to_be_bytes());
        soa_tail.extend_from_slice(&negative_soa.ttl.to_be_bytes());
        let mut rdata = Vec::new();
        soa_data.mname.encode_plain(&mut rdata);
        soa_data.rname.encode_plain(&mut rdata);
        for v in [
            soa_data.serial,
            soa_data.refresh,
            soa_data.retry,
            soa_data.expire,
            soa_data.minimum,
        ] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        soa_tail.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        soa_tail.extend_from_slice(&rdata);

        Ok(Authority {
            origin,
            names,
            soa_tail,
            max_udp_payload: 1232,
        })
    }

    /// The zone's origin.
    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// The largest UDP response sent to an EDNS query, and the payload size this
    /// server advertises in its OPT record (default 1232, the DNS Flag Day 2020
    /// value that avoids IP fragmentation; at least 512).
    pub fn max_udp_payload(mut self, bytes: u16) -> Self {
        self.max_udp_payload = bytes.max(512);
        self
    }

    /// Appends the response to `query` to `out` (which may already hold bytes: a
    /// TCP length prefix, other datagrams). Returns `false`, appending nothing,
    /// when the message gets no response at all (shorter than a header, or itself a
    /// response).
    pub fn respond(&self, query: &[u8], transport: Transport, out: &mut Vec<u8>) -> bool {
        let Ok(header) = Header::decode(query) else {
            return false;
        };
        if query.len() < HEADER_LEN || header.response {
            return false;
        }
        let base = out.len();
        let msg = match Message::decode(query) {
            Ok(m) => m,
            Err(_) => {
                write_header(out, &header, false, false, RCODE_FORMERR, [0, 0, 0, 0]);
                return true;
            }
        };
        if header.opcode.0 != 0 {
            self.write_error(out, &msg, RCODE_NOTIMP);
            return true;
        }
        if msg.questions.len() != 1 {
            self.write_error(out, &msg, RCODE_FORMERR);
            return true;
        }
        if msg.edns.as_ref().is_some_and(|e| e.version > 0) {
            // RFC 6891 6.1.3: BADVERS is 16, the high 8 bits in the OPT record.
            write_header(out, &header, false, false, 0, [1, 0, 0, 1]);
            write_question(out, &msg.questions[0]);
            self.write_opt(out, 1);
            return true;
        }
        let q = &msg.questions[0];
        if (q.qclass != Class::IN && q.qclass != Class::ANY)
            || q.qtype == AXFR
            || q.qtype == IXFR
            || !is_within(&q.name, &self.origin)
        {
            self.write_error(out, &msg, RCODE_REFUSED);
            return true;
        }
        let limit = match transport {
            Transport::Tcp => usize::from(u16::MAX),
            Transport::Udp => match &msg.edns {
                Some(e) => usize::from(e.udp_payload_size.clamp(512, self.max_udp_payload)),
                None => 512,
            },
        };
        let edns = msg.edns.is_some();
        let opt = u16::from(edns);
        match self.names.get(&q.name) {
            Some(entry) => {
                let t = entry
                    .by_type
                    .iter()
                    .chain(entry.cname.iter().flatten())
                    .find(|(t, _)| *t == q.qtype)
                    .map_or(&entry.other, |(_, t)| t);
                write_header(out, &header, true, false, 0, [1, t.an, t.ns, t.ar + opt]);
                write_question(out, q);
                out.extend_from_slice(&t.body);
            }
            None => {
                write_header(out, &header, true, false, RCODE_NXDOMAIN, [1, 0, 1, opt]);
                write_question(out, q);
                // The SOA owner is the origin: a suffix of the question name, at
                // the offset where its labels start.
                let at = HEADER_LEN + q.name.as_wire().len() - self.origin.as_wire().len();
                out.extend_from_slice(&(0xC000 | at as u16).to_be_bytes());
                out.extend_from_slice(&self.soa_tail);
            }
        }
        if edns {
            self.write_opt(out, 0);
        }
        if out.len() - base > limit {
            out.truncate(base);
            write_header(out, &header, true, true, 0, [1, 0, 0, opt]);
            write_question(out, q);
            if edns {
                self.write_opt(out, 0);
            }
        }
        true
    }

    /// An error response echoing the question(s).
    fn write_error(&self, out: &mut Vec<u8>, msg: &Message, rcode: u8) {
        let qd = msg.questions.len().min(1) as u16;
        let opt = u16::from(msg.edns.is_some());
        write_header(out, &msg.header, false, false, rcode, [qd, 0, 0, opt]);
        if let Some(q) = msg.questions.first() {
            write_question(out, q);
        }
        if msg.edns.is_some() {
            self.write_opt(out, 0);
        }
    }

    /// Our OPT record: payload size, the extended rcode bits, version 0, no options.
    fn write_opt(&self, out: &mut Vec<u8>, extended_rcode: u8) {
        out.push(0);
        out.extend_from_slice(&RecordType::OPT.0.to_be_bytes());
        out.extend_from_slice(&self.max_udp_payload.to_be_bytes());
        out.extend_from_slice(&[extended_rcode, 0, 0, 0, 0, 0]);
    }
}

/// Encodes templates: a response message for the canonical name, keeping what
/// follows the question.
struct Builder<'a> {
    by_name: &'a HashMap<Name, Vec<Record>>,
    negative_soa: &'a Record,
}

impl Builder<'_> {
    fn positive(&self, name: &Name, answers: Vec<Record>) -> Template {
        let additionals = self.glue(&answers);
        self.encode(name, answers, Vec::new(), additionals)
    }

    fn nodata(&self, name: &Name) -> Template {
        self.encode(
            name,
            Vec::new(),
            vec![self.negative_soa.clone()],
            Vec::new(),
        )
    }

    /// The CNAME, then the chain followed inside the zone, then the records of `t`
    /// at its end (or the end's SOA when there are none and it is in the zone).
    fn chain(&self, name: &Name, first: &Record, t: RecordType) -> Template {
        let mut answers = vec![first.clone()];
        let mut target = match &first.data {
            RData::Cname(n) => n.clone(),
            _ => return self.positive(name, answers),
        };
        for _ in 0..MAX_CNAME_CHAIN {
            let Some(records) = self.by_name.get(&target) else {
                break;
            };
            if let Some(next) = records.iter().find(|r| matches!(r.data, RData::Cname(_))) {
                answers.push(next.clone());
                let RData::Cname(n) = &next.data else { break };
                target = n.clone();
                continue;
            }
            answers.extend(records.iter().filter(|r| r.data.rtype() == t).cloned());
            break;
        }
        self.positive(name, answers)
    }

    /// A and AAAA of in-zone MX exchanges and NS hosts.
    fn glue(&self, answers: &[Record]) -> Vec<Record> {
        let mut out = Vec::new();
        for r in answers {
            let host = match &r.data {
                RData::Mx { exchange, .. } => exchange,
                RData::Ns(host) => host,
                _ => continue,
            };
            if let Some(records) = self.by_name.get(host) {
                out.extend(
                    records
                        .iter()
                        .filter(|g| matches!(g.data, RData::A(_) | RData::Aaaa(_)))
                        .cloned(),
                );
            }
        }
        out
    }

    fn encode(
        &self,
        name: &Name,
        answers: Vec<Record>,
        authorities: Vec<Record>,
        additionals: Vec<Record>,
    ) -> Template {
        let (an, ns, ar) = (
            answers.len() as u16,
            authorities.len() as u16,
            additionals.len() as u16,
        );
        let msg = Message {
            header: Header::query(0),
            questions: vec![Question {
                name: name.clone(),
                qtype: RecordType::A,
                qclass: Class::IN,
            }],
            answers,
            authorities,
            additionals,
            edns: None,
        };
        let mut wire = Vec::new();
        // A template too large for TCP is left empty; such a zone is not servable.
        let _ = msg.encode(&mut wire);
        let skip = (HEADER_LEN + name.as_wire().len() + 4).min(wire.len());
        Template {
            an,
            ns,
            ar,
            body: wire.split_off(skip),
        }
    }
}

fn write_header(
    out: &mut Vec<u8>,
    query: &Header,
    authoritative: bool,
    truncated: bool,
    rcode: u8,
    counts: [u16; 4],
) {
    let bit = |b: bool, n: u16| if b { 1u16 << n } else { 0 };
    let flags = bit(true, 15)
        | (u16::from(query.opcode.0 & 0x0F) << 11)
        | bit(authoritative, 10)
        | bit(truncated, 9)
        | bit(query.recursion_desired, 8)
        | u16::from(rcode & 0x0F);
    out.extend_from_slice(&query.id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        out.extend_from_slice(&c.to_be_bytes());
    }
}

/// The question as asked (its case kept), uncompressed.
fn write_question(out: &mut Vec<u8>, q: &Question) {
    q.name.encode_plain(out);
    out.extend_from_slice(&q.qtype.0.to_be_bytes());
    out.extend_from_slice(&q.qclass.0.to_be_bytes());
}

/// Whether `name` is `zone` or below it.
fn is_within(name: &Name, zone: &Name) -> bool {
    let (n, z) = (name.as_wire(), zone.as_wire());
    let mut pos = 0;
    while pos < n.len() {
        if n.len() - pos == z.len() {
            return n[pos..].eq_ignore_ascii_case(z);
        }
        pos += 1 + usize::from(n[pos]);
    }
    false
}

fn parent_of(name: &Name) -> Option<Name> {
    if name.is_root() {
        return None;
    }
    let mut labels = name.labels();
    labels.next();
    Name::from_labels(labels).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Rcode;

    const ZONE: &str = r#"
$ORIGIN example.test.
$TTL 3600
@     SOA ns1 hostmaster 1 7200 3600 1209600 300
      NS  ns1
      MX  10 mail
ns1   A   192.0.2.1
mail  A   192.0.2.25
www   A   192.0.2.10
      AAAA 2001:db8::10
alias CNAME www
a.b.deep A 192.0.2.99
big   TXT "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big   TXT "1123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big   TXT "2123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big   TXT "3123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big   TXT "4123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big   TXT "5123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
"#;

    fn authority() -> Authority {
        Authority::new(Zone::parse(ZONE, None).unwrap()).unwrap()
    }

    fn ask(a: &Authority, name: &str, t: RecordType, edns: Option<u16>, tr: Transport) -> Message {
        let q = Message::query(7, Name::from_ascii(name).unwrap(), t, edns);
        let mut wire = Vec::new();
        q.encode(&mut wire).unwrap();
        let mut out = vec![0xEE]; // bytes already there are kept
        assert!(a.respond(&wire, tr, &mut out));
        assert_eq!(out[0], 0xEE);
        Message::decode(&out[1..]).unwrap()
    }

    #[test]
    fn positive_answers_are_authoritative_with_glue() {
        let a = authority();
        let r = ask(
            &a,
            "WWW.example.test",
            RecordType::AAAA,
            None,
            Transport::Udp,
        );
        assert!(r.header.authoritative && r.header.response);
        assert_eq!((r.header.id, r.rcode()), (7, Rcode::NOERROR));
        assert_eq!(
            r.questions[0].name.to_string(),
            "WWW.example.test",
            "case kept"
        );
        assert_eq!(r.answers.len(), 1);
        assert_eq!(
            r.answers[0].data,
            RData::Aaaa("2001:db8::10".parse().unwrap())
        );
        let mx = ask(&a, "example.test", RecordType::MX, None, Transport::Udp);
        assert_eq!(mx.additionals.len(), 1, "glue for the in-zone exchange");
        assert_eq!(
            mx.additionals[0].data,
            RData::A("192.0.2.25".parse().unwrap())
        );
    }

    #[test]
    fn cname_is_followed() {
        let r = ask(
            &authority(),
            "alias.example.test",
            RecordType::A,
            None,
            Transport::Udp,
        );
        assert_eq!(r.answers.len(), 2);
        assert!(matches!(r.answers[0].data, RData::Cname(_)));
        assert_eq!(r.answers[1].data, RData::A("192.0.2.10".parse().unwrap()));
    }

    #[test]
    fn negative_answers_carry_the_soa() {
        let a = authority();
        let nx = ask(&a, "nope.example.test", RecordType::A, None, Transport::Udp);
        assert_eq!(nx.rcode(), Rcode::NXDOMAIN);
        assert!(nx.header.authoritative);
        assert_eq!(nx.authorities.len(), 1);
        assert_eq!(nx.authorities[0].name.to_string(), "example.test");
        assert_eq!(nx.authorities[0].ttl, 300, "min(SOA TTL, MINIMUM)");
        let nodata = ask(&a, "www.example.test", RecordType::MX, None, Transport::Udp);
        assert_eq!(
            (
                nodata.rcode(),
                nodata.answers.len(),
                nodata.authorities.len()
            ),
            (Rcode::NOERROR, 0, 1)
        );
        let ent = ask(
            &a,
            "b.deep.example.test",
            RecordType::A,
            None,
            Transport::Udp,
        );
        assert_eq!(ent.rcode(), Rcode::NOERROR, "empty non-terminal is NODATA");
    }

    #[test]
    fn refused_outside_the_zone_and_formerr_for_garbage() {
        let a = authority();
        let r = ask(&a, "example.org", RecordType::A, None, Transport::Udp);
        assert_eq!(r.rcode(), Rcode::REFUSED);
        assert!(!r.header.authoritative);
        let r = ask(&a, "notexample.test", RecordType::A, None, Transport::Udp);
        assert_eq!(
            r.rcode(),
            Rcode::REFUSED,
            "a suffix that is not at a label boundary"
        );
        let mut out = Vec::new();
        assert!(a.respond(
            &[0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'a'],
            Transport::Udp,
            &mut out
        ));
        let r = Message::decode(&out).unwrap();
        assert_eq!((r.header.id, r.rcode()), (9, Rcode::FORMERR));
        assert!(
            !a.respond(&[0; 5], Transport::Udp, &mut out),
            "shorter than a header"
        );
        let resp = out.clone();
        let before = out.len();
        assert!(
            !a.respond(&resp, Transport::Udp, &mut out),
            "a response is not answered"
        );
        assert_eq!(out.len(), before);
    }

    #[test]
    fn large_answers_truncate_over_udp_only() {
        let a = authority();
        let udp = ask(
            &a,
            "big.example.test",
            RecordType::TXT,
            None,
            Transport::Udp,
        );
        assert!(udp.header.truncated);
        assert_eq!(udp.answers.len(), 0);
        let edns = ask(
            &a,
            "big.example.test",
            RecordType::TXT,
            Some(4096),
            Transport::Udp,
        );
        assert!(!edns.header.truncated, "fits in 1232");
        assert_eq!(edns.answers.len(), 6);
        assert_eq!(edns.edns.as_ref().unwrap().udp_payload_size, 1232);
        let tcp = ask(
            &a,
            "big.example.test",
            RecordType::TXT,
            None,
            Transport::Tcp,
        );
        assert!(!tcp.header.truncated);
        assert_eq!(tcp.answers.len(), 6);
    }

    #[test]
    fn badvers_for_edns_above_zero() {
        let q = Message::query(
            1,
            Name::from_ascii("www.example.test").unwrap(),
            RecordType::A,
            Some(1232),
        );
        let mut q2 = q.clone();
        q2.edns.as_mut().unwrap().version = 1;
        let mut wire = Vec::new();
        q2.encode(&mut wire).unwrap();
        let mut out = Vec::new();
        assert!(authority().respond(&wire, Transport::Udp, &mut out));
        assert_eq!(Message::decode(&out).unwrap().rcode(), Rcode::BADVERS);
    }
}
