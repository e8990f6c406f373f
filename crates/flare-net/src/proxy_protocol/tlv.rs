//! Version 2 TLVs (section 2.2): "The first byte is the Type of the vector.
//! The second two bytes represent the length in bytes of the value (not
//! included the Type and Length bytes), and following the length field is
//! the number of bytes specified by the length."

use super::ProxyError;

/// Application-Layer Protocol Negotiation, e.g. `h2` (section 2.2.1).
pub const PP2_TYPE_ALPN: u8 = 0x01;
/// The host name the client asked for, the TLS SNI (section 2.2.2).
pub const PP2_TYPE_AUTHORITY: u8 = 0x02;
/// The header's CRC32c, 4 bytes big-endian (section 2.2.3).
pub const PP2_TYPE_CRC32C: u8 = 0x03;
/// Padding, ignored (section 2.2.4).
pub const PP2_TYPE_NOOP: u8 = 0x04;
/// An opaque connection id of up to 128 bytes (section 2.2.5).
pub const PP2_TYPE_UNIQUE_ID: u8 = 0x05;
/// TLS information about the client's connection (section 2.2.6).
pub const PP2_TYPE_SSL: u8 = 0x20;
/// SSL sub-TLV: the TLS version, e.g. `TLSv1.3`.
pub const PP2_SUBTYPE_SSL_VERSION: u8 = 0x21;
/// SSL sub-TLV: the client certificate's Common Name.
pub const PP2_SUBTYPE_SSL_CN: u8 = 0x22;
/// SSL sub-TLV: the cipher, e.g. `ECDHE-RSA-AES128-GCM-SHA256`.
pub const PP2_SUBTYPE_SSL_CIPHER: u8 = 0x23;
/// SSL sub-TLV: the signature algorithm of the proxy's certificate.
pub const PP2_SUBTYPE_SSL_SIG_ALG: u8 = 0x24;
/// SSL sub-TLV: the key algorithm of the proxy's certificate.
pub const PP2_SUBTYPE_SSL_KEY_ALG: u8 = 0x25;
/// The proxy's network namespace name (section 2.2.7).
pub const PP2_TYPE_NETNS: u8 = 0x30;

/// SSL client flag: the client connected over TLS.
pub const PP2_CLIENT_SSL: u8 = 0x01;
/// SSL client flag: the client sent a certificate on this connection.
pub const PP2_CLIENT_CERT_CONN: u8 = 0x02;
/// SSL client flag: the client sent a certificate at least once in this TLS
/// session.
pub const PP2_CLIENT_CERT_SESS: u8 = 0x04;

/// "an opaque byte sequence of up to 128 bytes" (section 2.2.5).
const MAX_UNIQUE_ID: usize = 128;

/// The `client` byte and `verify` word before the SSL sub-TLVs.
const SSL_FIXED_LEN: usize = 5;

/// One TLV as received.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tlv {
    /// The type (`PP2_TYPE_*`, or an unregistered one, kept as is).
    pub kind: u8,
    /// The value.
    pub value: Vec<u8>,
}

/// The value of a `PP2_TYPE_SSL` TLV:
///
/// ```text
/// struct pp2_tlv_ssl {
///         uint8_t  client;
///         uint32_t verify;
///         struct pp2_tlv sub_tlv[0];
/// };
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ssl<'a> {
    /// `PP2_CLIENT_*` flags.
    pub client: u8,
    /// "zero if the client presented a certificate and it was successfully
    /// verified, and non-zero otherwise".
    pub verify: u32,
    sub_tlvs: &'a [u8],
}

impl<'a> Ssl<'a> {
    /// Reads an SSL value whose sub-TLVs are well formed.
    pub(super) fn parse(value: &'a [u8]) -> Option<Ssl<'a>> {
        let (&client, rest) = value.split_first()?;
        let verify = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
        let sub_tlvs = &rest[4..];
        Tlvs::new(sub_tlvs).all(|t| t.is_ok()).then_some(Ssl {
            client,
            verify,
            sub_tlvs,
        })
    }

    /// `PP2_CLIENT_SSL`: the client connected over TLS.
    pub fn is_tls(&self) -> bool {
        self.client & PP2_CLIENT_SSL != 0
    }

    /// `PP2_CLIENT_CERT_CONN`: the client sent a certificate on this
    /// connection.
    pub fn cert_on_connection(&self) -> bool {
        self.client & PP2_CLIENT_CERT_CONN != 0
    }

    /// `PP2_CLIENT_CERT_SESS`: the client sent a certificate in this TLS
    /// session.
    pub fn cert_in_session(&self) -> bool {
        self.client & PP2_CLIENT_CERT_SESS != 0
    }

    /// A client certificate was presented and verified by the proxy.
    pub fn cert_verified(&self) -> bool {
        self.verify == 0 && (self.cert_on_connection() || self.cert_in_session())
    }

    /// The value of the first sub-TLV of type `kind`.
    pub fn sub_tlv(&self, kind: u8) -> Option<&'a [u8]> {
        self.sub_tlvs().find(|&(k, _)| k == kind).map(|(_, v)| v)
    }

    /// Every sub-TLV, in order.
    pub fn sub_tlvs(&self) -> impl Iterator<Item = (u8, &'a [u8])> {
        Tlvs::new(self.sub_tlvs).map_while(|t| t.ok().map(|(k, v, _)| (k, v)))
    }

    /// `PP2_SUBTYPE_SSL_VERSION`, e.g. `TLSv1.3`.
    pub fn version(&self) -> Option<&'a [u8]> {
        self.sub_tlv(PP2_SUBTYPE_SSL_VERSION)
    }

    /// `PP2_SUBTYPE_SSL_CN`: the client certificate's Common Name (UTF-8).
    pub fn cn(&self) -> Option<&'a [u8]> {
        self.sub_tlv(PP2_SUBTYPE_SSL_CN)
    }

    /// `PP2_SUBTYPE_SSL_CIPHER`.
    pub fn cipher(&self) -> Option<&'a [u8]> {
        self.sub_tlv(PP2_SUBTYPE_SSL_CIPHER)
    }

    /// `PP2_SUBTYPE_SSL_SIG_ALG`.
    pub fn sig_alg(&self) -> Option<&'a [u8]> {
        self.sub_tlv(PP2_SUBTYPE_SSL_SIG_ALG)
    }

    /// `PP2_SUBTYPE_SSL_KEY_ALG`.
    pub fn key_alg(&self) -> Option<&'a [u8]> {
        self.sub_tlv(PP2_SUBTYPE_SSL_KEY_ALG)
    }
}

/// Why a TLV block does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Malformed {
    /// Fewer than 3 bytes left for a type and a length.
    TruncatedHeader,
    /// A length past the end of the block.
    Overrun,
}

/// One TLV in a block: type, value, and the value's offset in the block.
type RawTlv<'a> = (u8, &'a [u8], usize);

/// Walks a TLV block; an `Err` ends it.
struct Tlvs<'a> {
    block: &'a [u8],
    at: usize,
}

impl<'a> Tlvs<'a> {
    fn new(block: &'a [u8]) -> Self {
        Tlvs { block, at: 0 }
    }
}

impl<'a> Iterator for Tlvs<'a> {
    type Item = Result<RawTlv<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.block.get(self.at..).filter(|r| !r.is_empty())?;
        let Some(&[kind, hi, lo]) = rest.get(..3) else {
            self.at = self.block.len();
            return Some(Err(Malformed::TruncatedHeader));
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        let Some(value) = rest.get(3..3 + len) else {
            self.at = self.block.len();
            return Some(Err(Malformed::Overrun));
        };
        let value_at = self.at + 3;
        self.at = value_at + len;
        Some(Ok((kind, value, value_at)))
    }
}

/// The TLVs of a version 2 header, checked, and the offset of the CRC32c
/// value within `block` if there is one.
pub(super) fn parse_tlvs(
    block: &[u8],
    max_tlvs: usize,
) -> Result<(Vec<Tlv>, Option<usize>), ProxyError> {
    let mut tlvs = Vec::new();
    let mut crc_at = None;
    let mut count = 0;
    for tlv in Tlvs::new(block) {
        let (kind, value, value_at) = tlv.map_err(|e| {
            ProxyError::BadV2(match e {
                Malformed::TruncatedHeader => "truncated TLV header",
                Malformed::Overrun => "TLV longer than the header",
            })
        })?;
        count += 1;
        if count > max_tlvs {
            return Err(ProxyError::TooManyTlvs);
        }
        match kind {
            PP2_TYPE_NOOP => continue,
            PP2_TYPE_CRC32C => {
                if value.len() != 4 {
                    return Err(ProxyError::BadV2("CRC32C TLV not 4 bytes"));
                }
                if crc_at.is_some() {
                    return Err(ProxyError::BadV2("two CRC32C TLVs"));
                }
                crc_at = Some(value_at);
            }
            PP2_TYPE_UNIQUE_ID if value.len() > MAX_UNIQUE_ID => {
                return Err(ProxyError::BadV2("UNIQUE_ID over 128 bytes"));
            }
            PP2_TYPE_SSL => {
                if value.len() < SSL_FIXED_LEN {
                    return Err(ProxyError::BadV2("SSL TLV shorter than 5 bytes"));
                }
                if let Some(Err(e)) = Tlvs::new(&value[SSL_FIXED_LEN..]).find(Result::is_err) {
                    return Err(ProxyError::BadV2(match e {
                        Malformed::TruncatedHeader => "truncated SSL sub-TLV header",
                        Malformed::Overrun => "SSL sub-TLV longer than the SSL TLV",
                    }));
                }
            }
            _ => {}
        }
        tlvs.push(Tlv {
            kind,
            value: value.to_vec(),
        });
    }
    Ok((tlvs, crc_at))
}
