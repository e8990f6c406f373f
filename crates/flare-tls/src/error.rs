//! Typed TLS errors: configuration problems (files, PEM, keys) and connection failures
//! (handshake failures with the alert, protocol violations).
//!
//! rustls' own error type is kept out of the public signatures: it is mapped onto
//! flare's enums here, and the rest is carried by the opaque [`Detail`], which only
//! displays.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong building a TLS configuration or running a TLS session.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate, key or CA file could not be read.
    CertFile {
        /// The file that was opened.
        path: PathBuf,
        /// Why reading it failed.
        source: io::Error,
    },
    /// PEM text could not be parsed.
    BadPem {
        /// Which input was being parsed.
        item: PemItem,
        /// The parser's complaint.
        source: PemError,
    },
    /// The certificate chain PEM holds no `CERTIFICATE` section (or no certificate was
    /// configured at all).
    NoCertificates,
    /// The key PEM holds no private key section (PKCS#8, PKCS#1 or SEC1).
    NoPrivateKey,
    /// The private key is of a kind the crypto provider cannot sign with.
    UnsupportedKey(Detail),
    /// The private key does not belong to the first (end-entity) certificate of the chain.
    KeyMismatch,
    /// A certificate could not be parsed or used (a bad CA bundle entry, a chain the
    /// verifier builder rejects).
    BadCertificate(Detail),
    /// Every protocol version was turned off.
    NoProtocolVersions,
    /// The name given to a client session is neither a DNS name nor an IP address.
    InvalidServerName,
    /// ALPN negotiation failed: the client offered protocols and none of ours matched
    /// (the server sent a `no_application_protocol` alert), or the client received that
    /// alert.
    NoMatchingAlpn,
    /// The handshake failed. When `reason` is [`HandshakeFailure::AlertReceived`] the
    /// alert is the one the peer sent; otherwise it is the alert queued for the peer
    /// (fetch it with `write_tls`), when it is known.
    HandshakeFailed {
        /// The alert sent or received, when known.
        alert: Option<Alert>,
        /// What went wrong.
        reason: HandshakeFailure,
    },
    /// The peer sent a fatal alert after the handshake.
    AlertReceived(Alert),
    /// The peer broke the protocol after the handshake (bad record, bad message, failed
    /// decryption). An alert was queued for it when `alert` is set.
    PeerMisbehaved {
        /// The alert queued for the peer, when known.
        alert: Option<Alert>,
        /// rustls' description.
        detail: Detail,
    },
    /// Making a certificate failed (feature `self-signed`).
    CertificateGeneration(Detail),
    /// Any other rustls failure (configuration or internal).
    Rustls(Detail),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CertFile { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            Self::BadPem { item, source } => write!(f, "bad PEM in {item}: {source}"),
            Self::NoCertificates => f.write_str("no certificate found"),
            Self::NoPrivateKey => f.write_str("no private key found"),
            Self::UnsupportedKey(d) => write!(f, "unsupported private key: {d}"),
            Self::KeyMismatch => {
                f.write_str("the private key does not match the end-entity certificate")
            }
            Self::BadCertificate(d) => write!(f, "bad certificate: {d}"),
            Self::NoProtocolVersions => f.write_str("no TLS protocol version enabled"),
            Self::InvalidServerName => f.write_str("invalid server name"),
            Self::NoMatchingAlpn => f.write_str("no matching ALPN protocol"),
            Self::HandshakeFailed { alert, reason } => {
                write!(f, "TLS handshake failed: {reason}")?;
                match alert {
                    Some(a) => write!(f, " (alert {a})"),
                    None => Ok(()),
                }
            }
            Self::AlertReceived(a) => write!(f, "peer sent fatal alert {a}"),
            Self::PeerMisbehaved { detail, .. } => write!(f, "peer misbehaved: {detail}"),
            Self::CertificateGeneration(d) => write!(f, "certificate generation failed: {d}"),
            Self::Rustls(d) => write!(f, "TLS error: {d}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::CertFile { source, .. } => Some(source),
            Self::BadPem { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Which PEM input a [`TlsError::BadPem`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PemItem {
    /// The certificate chain.
    CertificateChain,
    /// The private key.
    PrivateKey,
    /// A CA bundle (trust roots).
    CaBundle,
}

impl fmt::Display for PemItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CertificateChain => "certificate chain",
            Self::PrivateKey => "private key",
            Self::CaBundle => "CA bundle",
        })
    }
}

/// A PEM syntax error (opaque; displays the parser's message).
#[derive(Debug)]
pub struct PemError(rustls_pki_types::pem::Error);

impl PemError {
    pub(crate) fn new(e: rustls_pki_types::pem::Error) -> Self {
        Self(e)
    }
}

impl fmt::Display for PemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for PemError {}

/// rustls' description of a failure (opaque, so a rustls upgrade does not change
/// flare's API; it displays and debugs).
#[derive(Debug, Clone, PartialEq)]
pub struct Detail(rustls::Error);

impl Detail {
    pub(crate) fn new(e: rustls::Error) -> Self {
        Self(e)
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Why a handshake failed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum HandshakeFailure {
    /// The peer sent a fatal alert (it is in [`TlsError::HandshakeFailed::alert`]).
    AlertReceived,
    /// We rejected the peer's certificate.
    CertificateRejected(CertificateProblem),
    /// The peer sent no certificate although one is required (mTLS).
    NoPeerCertificate,
    /// No protocol version, cipher suite, key exchange group or signature scheme in
    /// common, or the peer lacks a required extension.
    PeerIncompatible(Detail),
    /// The peer broke the handshake protocol (unexpected or malformed message).
    PeerMisbehaved(Detail),
    /// Anything else.
    Other(Detail),
}

impl fmt::Display for HandshakeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlertReceived => f.write_str("peer sent a fatal alert"),
            Self::CertificateRejected(p) => write!(f, "peer certificate rejected: {p}"),
            Self::NoPeerCertificate => f.write_str("peer sent no certificate"),
            Self::PeerIncompatible(d) => write!(f, "peer incompatible: {d}"),
            Self::PeerMisbehaved(d) => write!(f, "peer misbehaved: {d}"),
            Self::Other(d) => fmt::Display::fmt(d, f),
        }
    }
}

/// Why a peer certificate was rejected.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CertificateProblem {
    /// Not issued by a trusted CA.
    UnknownIssuer,
    /// Expired or not yet valid.
    Expired,
    /// Not valid for the server name we connected to.
    NotValidForName,
    /// Revoked.
    Revoked,
    /// Malformed or with an unhandled critical extension.
    BadEncoding,
    /// A bad or unsupported signature.
    BadSignature,
    /// Not valid for this purpose (server versus client authentication).
    InvalidPurpose,
    /// Anything else.
    Other(Detail),
}

impl fmt::Display for CertificateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownIssuer => f.write_str("unknown issuer"),
            Self::Expired => f.write_str("expired or not yet valid"),
            Self::NotValidForName => f.write_str("not valid for the name"),
            Self::Revoked => f.write_str("revoked"),
            Self::BadEncoding => f.write_str("bad encoding"),
            Self::BadSignature => f.write_str("bad signature"),
            Self::InvalidPurpose => f.write_str("not valid for this purpose"),
            Self::Other(d) => fmt::Display::fmt(d, f),
        }
    }
}

/// A TLS alert description (RFC 8446 section 6, RFC 5246 section 7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Alert {
    /// close_notify (0)
    CloseNotify,
    /// unexpected_message (10)
    UnexpectedMessage,
    /// bad_record_mac (20)
    BadRecordMac,
    /// record_overflow (22)
    RecordOverflow,
    /// handshake_failure (40)
    HandshakeFailure,
    /// bad_certificate (42)
    BadCertificate,
    /// unsupported_certificate (43)
    UnsupportedCertificate,
    /// certificate_revoked (44)
    CertificateRevoked,
    /// certificate_expired (45)
    CertificateExpired,
    /// certificate_unknown (46)
    CertificateUnknown,
    /// illegal_parameter (47)
    IllegalParameter,
    /// unknown_ca (48)
    UnknownCa,
    /// access_denied (49)
    AccessDenied,
    /// decode_error (50)
    DecodeError,
    /// decrypt_error (51)
    DecryptError,
    /// protocol_version (70)
    ProtocolVersion,
    /// insufficient_security (71)
    InsufficientSecurity,
    /// internal_error (80)
    InternalError,
    /// inappropriate_fallback (86)
    InappropriateFallback,
    /// user_canceled (90)
    UserCanceled,
    /// missing_extension (109)
    MissingExtension,
    /// unsupported_extension (110)
    UnsupportedExtension,
    /// unrecognized_name (112)
    UnrecognizedName,
    /// bad_certificate_status_response (113)
    BadCertificateStatusResponse,
    /// unknown_psk_identity (115)
    UnknownPskIdentity,
    /// certificate_required (116)
    CertificateRequired,
    /// no_application_protocol (120)
    NoApplicationProtocol,
    /// Any other code.
    Other(u8),
}

impl Alert {
    /// The alert's wire code.
    pub fn code(self) -> u8 {
        match self {
            Self::CloseNotify => 0,
            Self::UnexpectedMessage => 10,
            Self::BadRecordMac => 20,
            Self::RecordOverflow => 22,
            Self::HandshakeFailure => 40,
            Self::BadCertificate => 42,
            Self::UnsupportedCertificate => 43,
            Self::CertificateRevoked => 44,
            Self::CertificateExpired => 45,
            Self::CertificateUnknown => 46,
            Self::IllegalParameter => 47,
            Self::UnknownCa => 48,
            Self::AccessDenied => 49,
            Self::DecodeError => 50,
            Self::DecryptError => 51,
            Self::ProtocolVersion => 70,
            Self::InsufficientSecurity => 71,
            Self::InternalError => 80,
            Self::InappropriateFallback => 86,
            Self::UserCanceled => 90,
            Self::MissingExtension => 109,
            Self::UnsupportedExtension => 110,
            Self::UnrecognizedName => 112,
            Self::BadCertificateStatusResponse => 113,
            Self::UnknownPskIdentity => 115,
            Self::CertificateRequired => 116,
            Self::NoApplicationProtocol => 120,
            Self::Other(c) => c,
        }
    }

    /// The alert for a wire code.
    pub fn from_code(code: u8) -> Self {
        match code {
            0 => Self::CloseNotify,
            10 => Self::UnexpectedMessage,
            20 => Self::BadRecordMac,
            22 => Self::RecordOverflow,
            40 => Self::HandshakeFailure,
            42 => Self::BadCertificate,
            43 => Self::UnsupportedCertificate,
            44 => Self::CertificateRevoked,
            45 => Self::CertificateExpired,
            46 => Self::CertificateUnknown,
            47 => Self::IllegalParameter,
            48 => Self::UnknownCa,
            49 => Self::AccessDenied,
            50 => Self::DecodeError,
            51 => Self::DecryptError,
            70 => Self::ProtocolVersion,
            71 => Self::InsufficientSecurity,
            80 => Self::InternalError,
            86 => Self::InappropriateFallback,
            90 => Self::UserCanceled,
            109 => Self::MissingExtension,
            110 => Self::UnsupportedExtension,
            112 => Self::UnrecognizedName,
            113 => Self::BadCertificateStatusResponse,
            115 => Self::UnknownPskIdentity,
            116 => Self::CertificateRequired,
            120 => Self::NoApplicationProtocol,
            c => Self::Other(c),
        }
    }

    fn from_rustls(a: rustls::AlertDescription) -> Self {
        Self::from_code(u8::from(a))
    }
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::CloseNotify => "close_notify",
            Self::UnexpectedMessage => "unexpected_message",
            Self::BadRecordMac => "bad_record_mac",
            Self::RecordOverflow => "record_overflow",
            Self::HandshakeFailure => "handshake_failure",
            Self::BadCertificate => "bad_certificate",
            Self::UnsupportedCertificate => "unsupported_certificate",
            Self::CertificateRevoked => "certificate_revoked",
            Self::CertificateExpired => "certificate_expired",
            Self::CertificateUnknown => "certificate_unknown",
            Self::IllegalParameter => "illegal_parameter",
            Self::UnknownCa => "unknown_ca",
            Self::AccessDenied => "access_denied",
            Self::DecodeError => "decode_error",
            Self::DecryptError => "decrypt_error",
            Self::ProtocolVersion => "protocol_version",
            Self::InsufficientSecurity => "insufficient_security",
            Self::InternalError => "internal_error",
            Self::InappropriateFallback => "inappropriate_fallback",
            Self::UserCanceled => "user_canceled",
            Self::MissingExtension => "missing_extension",
            Self::UnsupportedExtension => "unsupported_extension",
            Self::UnrecognizedName => "unrecognized_name",
            Self::BadCertificateStatusResponse => "bad_certificate_status_response",
            Self::UnknownPskIdentity => "unknown_psk_identity",
            Self::CertificateRequired => "certificate_required",
            Self::NoApplicationProtocol => "no_application_protocol",
            Self::Other(c) => return write!(f, "alert({c})"),
        };
        f.write_str(name)
    }
}

/// Maps a rustls connection error onto flare's error. `handshaking` says whether the
/// handshake was still running when the error happened.
///
/// The alert reported as sent follows the alert rustls queues for each error kind;
/// where rustls chooses among several per call site (version, cipher and
/// misbehaviour errors) it is `None`.
pub(crate) fn from_connection_error(e: rustls::Error, handshaking: bool) -> TlsError {
    use rustls::Error as E;
    let (alert, reason) = match e {
        E::NoApplicationProtocol => return TlsError::NoMatchingAlpn,
        E::AlertReceived(rustls::AlertDescription::NoApplicationProtocol) => {
            return TlsError::NoMatchingAlpn
        }
        E::AlertReceived(a) if !handshaking => {
            return TlsError::AlertReceived(Alert::from_rustls(a))
        }
        E::AlertReceived(a) => (Some(Alert::from_rustls(a)), HandshakeFailure::AlertReceived),
        E::InvalidCertificate(c) => {
            let alert = Alert::from_rustls(rustls::AlertDescription::from(c.clone()));
            (
                Some(alert),
                HandshakeFailure::CertificateRejected(problem(c)),
            )
        }
        E::NoCertificatesPresented => (
            Some(Alert::CertificateRequired),
            HandshakeFailure::NoPeerCertificate,
        ),
        E::PeerIncompatible(_) => (None, HandshakeFailure::PeerIncompatible(Detail::new(e))),
        E::InvalidMessage(m) => {
            let alert = Alert::from_rustls(rustls::AlertDescription::from(m));
            (
                Some(alert),
                HandshakeFailure::PeerMisbehaved(Detail::new(e)),
            )
        }
        E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => (
            Some(Alert::UnexpectedMessage),
            HandshakeFailure::PeerMisbehaved(Detail::new(e)),
        ),
        E::PeerSentOversizedRecord => (
            Some(Alert::RecordOverflow),
            HandshakeFailure::PeerMisbehaved(Detail::new(e)),
        ),
        E::DecryptError | E::PeerMisbehaved(_) => {
            (None, HandshakeFailure::PeerMisbehaved(Detail::new(e)))
        }
        other => (None, HandshakeFailure::Other(Detail::new(other))),
    };
    if handshaking {
        return TlsError::HandshakeFailed { alert, reason };
    }
    match reason {
        HandshakeFailure::PeerMisbehaved(detail) => TlsError::PeerMisbehaved { alert, detail },
        HandshakeFailure::PeerIncompatible(detail) | HandshakeFailure::Other(detail) => {
            TlsError::Rustls(detail)
        }
        // Certificates are only checked during the handshake; keep the shape anyway.
        reason => TlsError::HandshakeFailed { alert, reason },
    }
}

fn problem(c: rustls::CertificateError) -> CertificateProblem {
    use rustls::CertificateError as C;
    match c {
        C::UnknownIssuer => CertificateProblem::UnknownIssuer,
        C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => {
            CertificateProblem::Expired
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            CertificateProblem::NotValidForName
        }
        C::Revoked => CertificateProblem::Revoked,
        C::BadEncoding | C::UnhandledCriticalExtension => CertificateProblem::BadEncoding,
        C::BadSignature
        | C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            CertificateProblem::BadSignature
        }
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => CertificateProblem::InvalidPurpose,
        other => CertificateProblem::Other(Detail::new(rustls::Error::InvalidCertificate(other))),
    }
}

/// Maps a rustls error raised while building a configuration.
pub(crate) fn from_config_error(e: rustls::Error) -> TlsError {
    match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            TlsError::KeyMismatch
        }
        rustls::Error::InvalidCertificate(_) => TlsError::BadCertificate(Detail::new(e)),
        other => TlsError::Rustls(Detail::new(other)),
    }
}
