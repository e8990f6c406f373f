//! SETTINGS (RFC 9113 section 6.5).

use super::{require_connection, FrameError, FrameHeader, FrameType, FLAG_ACK};
use crate::StreamId;

/// The defined setting identifiers (section 6.5.2 and RFC 8441).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SettingId {
    /// 0x1 `SETTINGS_HEADER_TABLE_SIZE`.
    HeaderTableSize,
    /// 0x2 `SETTINGS_ENABLE_PUSH`.
    EnablePush,
    /// 0x3 `SETTINGS_MAX_CONCURRENT_STREAMS`.
    MaxConcurrentStreams,
    /// 0x4 `SETTINGS_INITIAL_WINDOW_SIZE`.
    InitialWindowSize,
    /// 0x5 `SETTINGS_MAX_FRAME_SIZE`.
    MaxFrameSize,
    /// 0x6 `SETTINGS_MAX_HEADER_LIST_SIZE`.
    MaxHeaderListSize,
    /// 0x8 `SETTINGS_ENABLE_CONNECT_PROTOCOL` (RFC 8441).
    EnableConnectProtocol,
    /// Anything else: "MUST ignore".
    Unknown(u16),
}

impl SettingId {
    /// The identifier for a wire value.
    pub fn from_u16(v: u16) -> SettingId {
        match v {
            1 => SettingId::HeaderTableSize,
            2 => SettingId::EnablePush,
            3 => SettingId::MaxConcurrentStreams,
            4 => SettingId::InitialWindowSize,
            5 => SettingId::MaxFrameSize,
            6 => SettingId::MaxHeaderListSize,
            8 => SettingId::EnableConnectProtocol,
            v => SettingId::Unknown(v),
        }
    }

    /// The wire value.
    pub fn to_u16(self) -> u16 {
        match self {
            SettingId::HeaderTableSize => 1,
            SettingId::EnablePush => 2,
            SettingId::MaxConcurrentStreams => 3,
            SettingId::InitialWindowSize => 4,
            SettingId::MaxFrameSize => 5,
            SettingId::MaxHeaderListSize => 6,
            SettingId::EnableConnectProtocol => 8,
            SettingId::Unknown(v) => v,
        }
    }
}

/// One setting: identifier and value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// Which setting.
    pub id: SettingId,
    /// Its value.
    pub value: u32,
}

/// A SETTINGS frame; its parameters are read lazily from the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings<'a> {
    /// ACK: acknowledges the peer's SETTINGS (no parameters).
    pub ack: bool,
    payload: &'a [u8],
}

impl<'a> Settings<'a> {
    /// A SETTINGS ACK.
    pub const ACK: Settings<'static> = Settings {
        ack: true,
        payload: &[],
    };

    pub(super) fn parse(head: &FrameHeader, payload: &'a [u8]) -> Result<Self, FrameError> {
        require_connection(head)?;
        let ack = head.flags & FLAG_ACK != 0;
        // "Receipt of a SETTINGS frame with the ACK flag set and a length
        // field value other than 0 MUST be treated as a connection error of
        // type FRAME_SIZE_ERROR." "A SETTINGS frame with a length other than
        // a multiple of 6 octets MUST be treated as a connection error of
        // type FRAME_SIZE_ERROR."
        if (ack && !payload.is_empty()) || payload.len() % 6 != 0 {
            return Err(FrameError::BadLength {
                kind: FrameType::Settings,
                stream_id: StreamId::ZERO,
            });
        }
        Ok(Settings { ack, payload })
    }

    /// Reads a raw parameter list (e.g. the decoded `HTTP2-Settings` header
    /// of an h2c upgrade); `None` if its length is not a multiple of 6.
    pub fn from_payload(payload: &'a [u8]) -> Option<Settings<'a>> {
        (payload.len() % 6 == 0).then_some(Settings {
            ack: false,
            payload,
        })
    }

    /// The parameters in order (later values of the same id win).
    pub fn params(&self) -> impl Iterator<Item = Setting> + 'a {
        self.payload.chunks_exact(6).map(|c| Setting {
            id: SettingId::from_u16(u16::from_be_bytes([c[0], c[1]])),
            value: u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
        })
    }

    /// Appends the frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let flags = if self.ack { FLAG_ACK } else { 0 };
        FrameHeader::new(
            FrameType::Settings,
            flags,
            StreamId::ZERO,
            self.payload.len(),
        )
        .encode(out);
        out.extend_from_slice(self.payload);
    }

    /// Appends a SETTINGS frame (not ACK) carrying `params`.
    pub fn encode_params(params: &[Setting], out: &mut Vec<u8>) {
        FrameHeader::new(FrameType::Settings, 0, StreamId::ZERO, params.len() * 6).encode(out);
        for p in params {
            out.extend_from_slice(&p.id.to_u16().to_be_bytes());
            out.extend_from_slice(&p.value.to_be_bytes());
        }
    }
}
