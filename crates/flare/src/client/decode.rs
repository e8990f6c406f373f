//! Response body layers: content decoding (gzip, deflate) and the size cap, which
//! counts decoded bytes so a small compressed body cannot expand past it.

//!
//! Without the `deflate` feature there is no coding to decode: [`Coding`] has no
//! values, the client does not send `Accept-Encoding`, and a coded body is handed
//! to the user as it came, with its `Content-Encoding`.

use std::io::{self, Read};

use super::error::Error;

#[cfg(feature = "deflate")]
pub(crate) use inflating::Decoder;
#[cfg(not(feature = "deflate"))]
pub(crate) use none::Decoder;

/// The content codings we decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coding {
    #[cfg(feature = "deflate")]
    Gzip,
    #[cfg(feature = "deflate")]
    Deflate,
}

impl Coding {
    /// The coding named by a `Content-Encoding` value (one coding; anything else
    /// is passed through undecoded).
    #[cfg(not(feature = "deflate"))]
    pub(crate) fn from_header(_: &[u8]) -> Option<Coding> {
        None
    }

    /// The coding named by a `Content-Encoding` value (one coding; anything else
    /// is passed through undecoded).
    #[cfg(feature = "deflate")]
    pub(crate) fn from_header(v: &[u8]) -> Option<Coding> {
        let v = v.trim_ascii();
        if v.eq_ignore_ascii_case(b"gzip") || v.eq_ignore_ascii_case(b"x-gzip") {
            Some(Coding::Gzip)
        } else if v.eq_ignore_ascii_case(b"deflate") {
            Some(Coding::Deflate)
        } else {
            None
        }
    }
}

/// The inflating reader (miniz_oxide).
#[cfg(feature = "deflate")]
mod inflating {
    use std::io::{self, Read};

    use miniz_oxide::inflate::stream::{inflate, InflateState};
    use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

    use super::super::error::{Error, ProtocolError};
    use super::Coding;

    #[derive(Debug, PartialEq, Eq)]
    enum Phase {
        /// Collecting the gzip header (RFC 1952 section 2.3).
        GzipHeader,
        /// `deflate`: the first bytes tell zlib (RFC 1950) from raw deflate, which some
        /// servers send.
        Sniff,
        Inflate,
        /// CRC32 and ISIZE.
        GzipTrailer,
        Done,
    }

    /// Inflates `inner`.
    pub(crate) struct Decoder<R> {
        inner: R,
        coding: Coding,
        phase: Phase,
        state: Option<Box<InflateState>>,
        input: Vec<u8>,
        pos: usize,
        eof: bool,
        crc: u32,
        size: u32,
        url: String,
    }

    impl<R: Read> Decoder<R> {
        pub(crate) fn new(inner: R, coding: Coding, url: String) -> Self {
            Decoder {
                inner,
                coding,
                phase: match coding {
                    Coding::Gzip => Phase::GzipHeader,
                    Coding::Deflate => Phase::Sniff,
                },
                state: None,
                input: Vec::with_capacity(16 * 1024),
                pos: 0,
                eof: false,
                crc: 0,
                size: 0,
                url,
            }
        }

        fn bad(&self) -> io::Error {
            Error::protocol(&self.url, ProtocolError::BadContentEncoding).into_io()
        }

        /// Reads more compressed input; false at EOF.
        fn more(&mut self) -> io::Result<bool> {
            if self.eof {
                return Ok(false);
            }
            if self.pos > 0 {
                self.input.drain(..self.pos);
                self.pos = 0;
            }
            let old = self.input.len();
            self.input.resize(old + 16 * 1024, 0);
            let r = self.inner.read(&mut self.input[old..]);
            let n = *r.as_ref().unwrap_or(&0);
            self.input.truncate(old + n);
            if r? == 0 {
                self.eof = true;
                return Ok(false);
            }
            Ok(true)
        }

        fn avail(&self) -> &[u8] {
            &self.input[self.pos..]
        }

        /// The gzip header's length once complete, `None` while incomplete.
        fn gzip_header_len(b: &[u8]) -> Result<Option<usize>, ()> {
            const FHCRC: u8 = 2;
            const FEXTRA: u8 = 4;
            const FNAME: u8 = 8;
            const FCOMMENT: u8 = 16;
            if b.len() < 10 {
                return Ok(None);
            }
            if b[0] != 0x1f || b[1] != 0x8b || b[2] != 8 {
                return Err(());
            }
            let flags = b[3];
            let mut p = 10;
            if flags & FEXTRA != 0 {
                let Some(x) = b.get(p..p + 2) else {
                    return Ok(None);
                };
                p += 2 + usize::from(u16::from_le_bytes([x[0], x[1]]));
            }
            for flag in [FNAME, FCOMMENT] {
                if flags & flag != 0 {
                    match b.get(p..).and_then(|r| r.iter().position(|&c| c == 0)) {
                        Some(z) => p += z + 1,
                        None => return Ok(None),
                    }
                }
            }
            if flags & FHCRC != 0 {
                p += 2;
            }
            Ok((p <= b.len()).then_some(p))
        }
    }

    impl<R: Read> Read for Decoder<R> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if out.is_empty() {
                return Ok(0);
            }
            loop {
                match self.phase {
                    Phase::Done => {
                        // Read the raw body to its end (the chunked terminator, say), so
                        // the connection goes back to the pool; a little trailing junk is
                        // tolerated and dropped.
                        let mut junk = 0usize;
                        let mut buf = [0u8; 512];
                        while !self.eof && junk < 64 * 1024 {
                            let n = self.inner.read(&mut buf)?;
                            self.eof = n == 0;
                            junk += n;
                        }
                        return Ok(0);
                    }
                    Phase::GzipHeader => match Self::gzip_header_len(self.avail()) {
                        Err(()) => return Err(self.bad()),
                        Ok(Some(n)) => {
                            self.pos += n;
                            self.state = Some(InflateState::new_boxed(DataFormat::Raw));
                            self.phase = Phase::Inflate;
                        }
                        Ok(None) => {
                            if !self.more()? {
                                return Err(self.bad());
                            }
                        }
                    },
                    Phase::Sniff => {
                        let b = self.avail();
                        if b.len() < 2 {
                            if !self.more()? {
                                // An empty deflate body is empty content.
                                if self.avail().is_empty() {
                                    self.phase = Phase::Done;
                                    continue;
                                }
                                return Err(self.bad());
                            }
                            continue;
                        }
                        // RFC 1950: CM = 8, and the first two bytes are a multiple of 31.
                        let zlib =
                            b[0] & 0x0f == 8 && (u16::from(b[0]) << 8 | u16::from(b[1])) % 31 == 0;
                        let format = if zlib {
                            DataFormat::Zlib
                        } else {
                            DataFormat::Raw
                        };
                        self.state = Some(InflateState::new_boxed(format));
                        self.phase = Phase::Inflate;
                    }
                    Phase::Inflate => {
                        if self.avail().is_empty() && !self.eof {
                            self.more()?;
                        }
                        let Some(state) = self.state.as_mut() else {
                            return Err(self.bad());
                        };
                        let r = inflate(state, &self.input[self.pos..], out, MZFlush::None);
                        self.pos += r.bytes_consumed;
                        let written = r.bytes_written;
                        if self.coding == Coding::Gzip {
                            self.crc = crc32(self.crc, &out[..written]);
                            self.size = self.size.wrapping_add(written as u32);
                        }
                        match r.status {
                            Ok(MZStatus::StreamEnd) => {
                                self.state = None;
                                self.phase = match self.coding {
                                    Coding::Gzip => Phase::GzipTrailer,
                                    Coding::Deflate => Phase::Done,
                                };
                            }
                            // `Buf`: no progress possible without more input.
                            Ok(_) | Err(MZError::Buf) => {}
                            Err(_) => return Err(self.bad()),
                        }
                        if written > 0 {
                            return Ok(written);
                        }
                        if self.phase == Phase::Inflate && r.bytes_consumed == 0 {
                            if self.eof {
                                // Truncated stream.
                                return Err(self.bad());
                            }
                            self.more()?;
                        }
                    }
                    Phase::GzipTrailer => {
                        if self.avail().len() < 8 {
                            if !self.more()? {
                                return Err(self.bad());
                            }
                            continue;
                        }
                        let t = self.avail();
                        let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
                        let size = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
                        if crc != self.crc || size != self.size {
                            return Err(self.bad());
                        }
                        self.phase = Phase::Done;
                    }
                }
            }
        }
    }

    /// CRC-32 (IEEE, as gzip uses), bytewise with a table built once.
    pub(super) fn crc32(crc: u32, data: &[u8]) -> u32 {
        static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
        let table = TABLE.get_or_init(|| {
            let mut t = [0u32; 256];
            for (i, e) in t.iter_mut().enumerate() {
                let mut c = i as u32;
                for _ in 0..8 {
                    c = if c & 1 != 0 {
                        0xedb8_8320 ^ (c >> 1)
                    } else {
                        c >> 1
                    };
                }
                *e = c;
            }
            t
        });
        let mut c = !crc;
        for &b in data {
            c = table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
        }
        !c
    }
}

/// Without the `deflate` feature: a decoder that cannot exist (there is no
/// [`Coding`] to make one with).
#[cfg(not(feature = "deflate"))]
mod none {
    use std::io::{self, Read};
    use std::marker::PhantomData;

    use super::Coding;

    pub(crate) struct Decoder<R>(Coding, PhantomData<R>);

    impl<R> Decoder<R> {
        pub(crate) fn new(_: R, coding: Coding, _: String) -> Self {
            match coding {}
        }
    }

    impl<R> Read for Decoder<R> {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            match self.0 {}
        }
    }
}

/// Fails once more than `limit` bytes have come through.
pub(crate) struct Capped<R, U = String> {
    pub(crate) inner: R,
    pub(crate) seen: u64,
    pub(crate) limit: u64,
    /// For the error: a `String`, or an `Arc<str>` shared with the rest of the
    /// response.
    pub(crate) url: U,
}

impl<R: Read, U: AsRef<str>> Read for Capped<R, U> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        // Ask for at most one byte past the limit, so a body of exactly the limit
        // passes and one byte more fails without reading further.
        let room = self.limit.saturating_sub(self.seen).saturating_add(1);
        let want = out.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut out[..want])?;
        self.seen += n as u64;
        if self.seen > self.limit {
            return Err(Error::BodyTooLarge {
                url: self.url.as_ref().to_owned(),
                limit: self.limit,
            }
            .into_io());
        }
        Ok(n)
    }
}

#[cfg(all(test, feature = "deflate"))]
mod tests {
    use super::inflating::crc32;
    use super::*;

    #[test]
    fn crc_matches_the_check_value() {
        assert_eq!(crc32(0, b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn inflates_zlib_and_raw_deflate() {
        let data = b"hello hello hello hello".repeat(100);
        for z in [
            miniz_oxide::deflate::compress_to_vec_zlib(&data, 6),
            miniz_oxide::deflate::compress_to_vec(&data, 6),
        ] {
            let mut d = Decoder::new(&z[..], Coding::Deflate, "u".into());
            let mut out = Vec::new();
            d.read_to_end(&mut out).unwrap();
            assert_eq!(out, data);
        }
    }

    #[test]
    fn inflates_gzip_and_checks_the_trailer() {
        let data = b"gzip me ".repeat(1000);
        let mut gz = vec![0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3];
        gz.extend_from_slice(b"name.txt\0");
        gz.extend(miniz_oxide::deflate::compress_to_vec(&data, 6));
        gz.extend(crc32(0, &data).to_le_bytes());
        gz.extend((data.len() as u32).to_le_bytes());
        let mut out = Vec::new();
        Decoder::new(&gz[..], Coding::Gzip, "u".into())
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        let n = gz.len();
        gz[n - 5] ^= 1;
        assert!(Decoder::new(&gz[..], Coding::Gzip, "u".into())
            .read_to_end(&mut Vec::new())
            .is_err());
    }
}
