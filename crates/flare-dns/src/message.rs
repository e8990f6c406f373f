//! DNS messages (RFC 1035 4.1) with EDNS(0) (RFC 6891).

use crate::error::{DecodeError, EncodeError, Section};
use crate::name::{Compressor, Name};
use crate::rdata::{Class, RData, RecordType};
use crate::wire::Reader;

/// The header's size in bytes.
pub const HEADER_LEN: usize = 12;
/// The smallest possible question: root name, type, class.
const MIN_QUESTION_LEN: usize = 5;
/// The smallest possible record: root name, type, class, TTL, RDLENGTH.
const MIN_RECORD_LEN: usize = 11;

/// A query kind (RFC 1035 4.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Opcode(pub u8);

impl Opcode {
    /// A standard query.
    pub const QUERY: Self = Self(0);
}

/// A response code; values above 15 need EDNS (RFC 6891 6.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rcode(pub u16);

impl Rcode {
    /// No error.
    pub const NOERROR: Self = Self(0);
    /// The server could not interpret the query.
    pub const FORMERR: Self = Self(1);
    /// The server failed.
    pub const SERVFAIL: Self = Self(2);
    /// The name does not exist.
    pub const NXDOMAIN: Self = Self(3);
    /// The server does not implement the query kind.
    pub const NOTIMP: Self = Self(4);
    /// The server refused.
    pub const REFUSED: Self = Self(5);
    /// The EDNS version is not supported.
    pub const BADVERS: Self = Self(16);
}

/// The fixed header (RFC 1035 4.1.1). Section counts are not stored: they come from
/// the section vectors when encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Matches a response to its query.
    pub id: u16,
    /// QR: this is a response.
    pub response: bool,
    /// The query kind (4 bits).
    pub opcode: Opcode,
    /// AA: authoritative answer.
    pub authoritative: bool,
    /// TC: the message was truncated to fit the transport.
    pub truncated: bool,
    /// RD: recursion desired.
    pub recursion_desired: bool,
    /// RA: recursion available.
    pub recursion_available: bool,
    /// The reserved Z bit, kept so decode and encode round-trip.
    pub z: bool,
    /// AD: authentic data (RFC 4035).
    pub authentic_data: bool,
    /// CD: checking disabled (RFC 4035).
    pub checking_disabled: bool,
    /// The low 4 bits of the response code (higher bits are not encoded); see
    /// [`Message::rcode`] for the full code.
    pub rcode_low: u8,
}

impl Header {
    /// A query header with recursion desired.
    pub fn query(id: u16) -> Self {
        Self {
            id,
            response: false,
            opcode: Opcode::QUERY,
            authoritative: false,
            truncated: false,
            recursion_desired: true,
            recursion_available: false,
            z: false,
            authentic_data: false,
            checking_disabled: false,
            rcode_low: 0,
        }
    }

    fn flags(&self) -> u16 {
        let bit = |b: bool, n: u16| if b { 1 << n } else { 0 };
        bit(self.response, 15)
            | (u16::from(self.opcode.0 & 0x0F) << 11)
            | bit(self.authoritative, 10)
            | bit(self.truncated, 9)
            | bit(self.recursion_desired, 8)
            | bit(self.recursion_available, 7)
            | bit(self.z, 6)
            | bit(self.authentic_data, 5)
            | bit(self.checking_disabled, 4)
            | u16::from(self.rcode_low & 0x0F)
    }

    fn from_flags(id: u16, f: u16) -> Self {
        let bit = |n: u16| f & (1 << n) != 0;
        Self {
            id,
            response: bit(15),
            opcode: Opcode(((f >> 11) & 0x0F) as u8),
            authoritative: bit(10),
            truncated: bit(9),
            recursion_desired: bit(8),
            recursion_available: bit(7),
            z: bit(6),
            authentic_data: bit(5),
            checking_disabled: bit(4),
            rcode_low: (f & 0x0F) as u8,
        }
    }

    /// Decodes just the header, e.g. to match a response's id before the body.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(msg);
        let id = r.u16()?;
        let flags = r.u16()?;
        Ok(Self::from_flags(id, flags))
    }
}

/// A question (RFC 1035 4.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// The name asked about.
    pub name: Name,
    /// The type asked for.
    pub qtype: RecordType,
    /// The class asked for.
    pub qclass: Class,
}

/// A resource record (RFC 1035 4.1.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The owner name.
    pub name: Name,
    /// The class.
    pub class: Class,
    /// Seconds the record may be cached.
    pub ttl: u32,
    /// The typed data; its type is the record's TYPE.
    pub data: RData,
}

/// One EDNS option (RFC 6891 6.1.2), kept raw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdnsOption {
    /// OPTION-CODE.
    pub code: u16,
    /// OPTION-DATA.
    pub data: Vec<u8>,
}

/// The EDNS(0) OPT pseudo-record, lifted out of the additional section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edns {
    /// The largest UDP payload the sender can reassemble (the OPT CLASS field).
    pub udp_payload_size: u16,
    /// The high 8 bits of the 12-bit response code.
    pub extended_rcode: u8,
    /// The EDNS version; flare speaks 0.
    pub version: u8,
    /// DO: DNSSEC answers OK.
    pub dnssec_ok: bool,
    /// The remaining 15 flag bits, kept so decode and encode round-trip.
    pub other_flags: u16,
    /// The options.
    pub options: Vec<EdnsOption>,
}

impl Edns {
    /// EDNS version 0 advertising `udp_payload_size`, no options.
    pub fn new(udp_payload_size: u16) -> Self {
        Self {
            udp_payload_size,
            extended_rcode: 0,
            version: 0,
            dnssec_ok: false,
            other_flags: 0,
            options: Vec::new(),
        }
    }
}

/// A whole DNS message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The header.
    pub header: Header,
    /// The question section.
    pub questions: Vec<Question>,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section.
    pub authorities: Vec<Record>,
    /// The additional section, without the OPT record.
    pub additionals: Vec<Record>,
    /// The OPT record, if the message had one.
    pub edns: Option<Edns>,
}

impl Message {
    /// A recursive query for `name`/`qtype` in class IN, with EDNS advertising
    /// `edns_udp_size` when given.
    pub fn query(id: u16, name: Name, qtype: RecordType, edns_udp_size: Option<u16>) -> Self {
        Self {
            header: Header::query(id),
            questions: vec![Question {
                name,
                qtype,
                qclass: Class::IN,
            }],
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            edns: edns_udp_size.map(Edns::new),
        }
    }

    /// The full response code: the header's 4 bits plus EDNS's high 8 bits.
    pub fn rcode(&self) -> Rcode {
        let high = self
            .edns
            .as_ref()
            .map_or(0, |e| u16::from(e.extended_rcode));
        Rcode((high << 4) | u16::from(self.header.rcode_low & 0x0F))
    }

    /// Decodes a message. Every count and length is checked against the bytes that
    /// are actually there; any problem is an error, never a panic.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(msg);
        let id = r.u16()?;
        let header = Header::from_flags(id, r.u16()?);
        let qd = r.untrusted_u16()?;
        let an = r.untrusted_u16()?;
        let ns = r.untrusted_u16()?;
        let ar = r.untrusted_u16()?;

        let qd = qd.count_within(&r, MIN_QUESTION_LEN, Section::Question)?;
        let mut questions = Vec::with_capacity(qd);
        for _ in 0..qd {
            let name = Name::decode(&mut r)?;
            questions.push(Question {
                name,
                qtype: RecordType(r.u16()?),
                qclass: Class(r.u16()?),
            });
        }
        let mut edns = None;
        let answers = decode_records(&mut r, an, Section::Answer, &mut edns)?;
        let authorities = decode_records(&mut r, ns, Section::Authority, &mut edns)?;
        let additionals = decode_records(&mut r, ar, Section::Additional, &mut edns)?;
        if r.remaining() != 0 {
            return Err(DecodeError::TrailingBytes { offset: r.pos() });
        }
        Ok(Self {
            header,
            questions,
            answers,
            authorities,
            additionals,
            edns,
        })
    }

    /// Appends the encoded message to `out`, compressing names. `out` may already hold
    /// bytes (a TCP length prefix, say); compression offsets are relative to where the
    /// message starts.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let base = out.len();
        let count = |n: usize, section| {
            u16::try_from(n).map_err(|_| EncodeError::TooManyEntries { section })
        };
        let qd = count(self.questions.len(), Section::Question)?;
        let an = count(self.answers.len(), Section::Answer)?;
        let ns = count(self.authorities.len(), Section::Authority)?;
        let ar = count(
            self.additionals.len() + usize::from(self.edns.is_some()),
            Section::Additional,
        )?;
        let header = self.header;
        out.extend_from_slice(&header.id.to_be_bytes());
        out.extend_from_slice(&header.flags().to_be_bytes());
        for c in [qd, an, ns, ar] {
            out.extend_from_slice(&c.to_be_bytes());
        }
        let mut c = Compressor::new(base);
        for q in &self.questions {
            c.encode(&q.name, out);
            out.extend_from_slice(&q.qtype.0.to_be_bytes());
            out.extend_from_slice(&q.qclass.0.to_be_bytes());
        }
        for rec in self
            .answers
            .iter()
            .chain(&self.authorities)
            .chain(&self.additionals)
        {
            encode_record(rec, &mut c, out)?;
        }
        if let Some(edns) = &self.edns {
            encode_opt(edns, out)?;
        }
        if out.len() - base > usize::from(u16::MAX) {
            out.truncate(base);
            return Err(EncodeError::MessageTooLong);
        }
        Ok(())
    }
}

fn decode_records(
    r: &mut Reader<'_>,
    count: crate::wire::Untrusted,
    section: Section,
    edns: &mut Option<Edns>,
) -> Result<Vec<Record>, DecodeError> {
    let n = count.count_within(r, MIN_RECORD_LEN, section)?;
    let mut records = Vec::with_capacity(n);
    for _ in 0..n {
        let start = r.pos();
        let name = Name::decode(r)?;
        let rtype = RecordType(r.u16()?);
        let class = r.u16()?;
        let ttl = r.u32()?;
        let rdlen = r.untrusted_u16()?;
        let rdata_at = r.pos();
        let len = rdlen.len_within(r).ok_or(DecodeError::BadRdataLength {
            offset: rdata_at,
            rtype: rtype.0,
        })?;
        let mut sub = r.sub(len);
        r.set_pos(rdata_at + len);
        if rtype == RecordType::OPT {
            // RFC 6891 6.1.1: at most one OPT, in the additional section, owned by root.
            if section != Section::Additional || edns.is_some() || !name.is_root() {
                return Err(DecodeError::BadOpt { offset: start });
            }
            *edns = Some(decode_opt(&mut sub, class, ttl)?);
            continue;
        }
        let data = RData::decode(rtype, &mut sub)?;
        records.push(Record {
            name,
            class: Class(class),
            ttl,
            data,
        });
    }
    Ok(records)
}

fn decode_opt(r: &mut Reader<'_>, class: u16, ttl: u32) -> Result<Edns, DecodeError> {
    let [extended_rcode, version, f0, f1] = ttl.to_be_bytes();
    let flags = u16::from_be_bytes([f0, f1]);
    let mut options = Vec::new();
    while r.remaining() > 0 {
        let code = r.u16()?;
        let at = r.pos();
        let len = r
            .untrusted_u16()?
            .len_within(r)
            .ok_or(DecodeError::BadRdataLength {
                offset: at,
                rtype: RecordType::OPT.0,
            })?;
        options.push(EdnsOption {
            code,
            data: r.bytes(len)?.to_vec(),
        });
    }
    Ok(Edns {
        udp_payload_size: class,
        extended_rcode,
        version,
        dnssec_ok: flags & 0x8000 != 0,
        other_flags: flags & 0x7FFF,
        options,
    })
}

fn encode_record(rec: &Record, c: &mut Compressor, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let rtype = rec.data.rtype();
    c.encode(&rec.name, out);
    out.extend_from_slice(&rtype.0.to_be_bytes());
    out.extend_from_slice(&rec.class.0.to_be_bytes());
    out.extend_from_slice(&rec.ttl.to_be_bytes());
    let len_at = out.len();
    out.extend_from_slice(&[0, 0]);
    rec.data.encode(c, out)?;
    patch_len(out, len_at, rtype.0)
}

fn encode_opt(edns: &Edns, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    out.push(0); // root owner
    out.extend_from_slice(&RecordType::OPT.0.to_be_bytes());
    out.extend_from_slice(&edns.udp_payload_size.to_be_bytes());
    let flags = (if edns.dnssec_ok { 0x8000 } else { 0 }) | (edns.other_flags & 0x7FFF);
    out.extend_from_slice(&[edns.extended_rcode, edns.version]);
    out.extend_from_slice(&flags.to_be_bytes());
    let len_at = out.len();
    out.extend_from_slice(&[0, 0]);
    for opt in &edns.options {
        let len = u16::try_from(opt.data.len())
            .map_err(|_| EncodeError::OptionTooLong { code: opt.code })?;
        out.extend_from_slice(&opt.code.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&opt.data);
    }
    patch_len(out, len_at, RecordType::OPT.0)
}

fn patch_len(out: &mut [u8], len_at: usize, rtype: u16) -> Result<(), EncodeError> {
    let len = out.len() - len_at - 2;
    let len = u16::try_from(len).map_err(|_| EncodeError::RdataTooLong { rtype })?;
    if let Some(slot) = out.get_mut(len_at..len_at + 2) {
        slot.copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}
