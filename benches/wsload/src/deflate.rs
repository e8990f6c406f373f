//! Echo with permessage-deflate (RFC 7692): tungstenite's frame header
//! codec, flate2's raw deflate, our masking. Every reply must come back
//! compressed (RSV1) and inflate to what was sent.

use std::io::Cursor;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

use crate::handshake::Deflate;

/// RFC 7692 section 7.2.1: the tail a sync flush leaves, removed on send and
/// put back before inflating.
const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

/// One connection's send-and-wait loop with compression.
pub struct Deflated {
    stream: TcpStream,
    params: Deflate,
    compress: Compress,
    decompress: Decompress,
    out: Vec<u8>,
    rbuf: Vec<u8>,
    message: Vec<u8>,
    inflated: Vec<u8>,
    mask_seed: u32,
    /// Replies that came back with RSV1 set.
    pub compressed_replies: u64,
}

impl Deflated {
    /// Wraps an upgraded socket with the agreed parameters.
    pub fn new(stream: TcpStream, params: Deflate) -> Deflated {
        Deflated {
            stream,
            params,
            compress: Compress::new(Compression::default(), false),
            decompress: Decompress::new(false),
            out: Vec::new(),
            rbuf: Vec::with_capacity(64 * 1024),
            message: Vec::new(),
            inflated: Vec::new(),
            mask_seed: 0x9e37_79b9,
            compressed_replies: 0,
        }
    }

    fn next_mask(&mut self) -> [u8; 4] {
        // xorshift: masks only need to vary, not to be secret, on loopback.
        let mut x = self.mask_seed;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.mask_seed = x;
        x.to_le_bytes()
    }

    /// Compresses `msg`, sends it as one text (or binary) frame with RSV1,
    /// reads the reply message and checks it inflates to `msg`.
    pub async fn round_trip(&mut self, msg: &[u8], text: bool) -> Result<(), String> {
        // We start from an empty window every message, which is always allowed
        // and what client_no_context_takeover requires.
        self.compress.reset();
        let mut payload = Vec::with_capacity(msg.len() + 64);
        deflate(&mut self.compress, msg, &mut payload)?;
        let header = FrameHeader {
            is_final: true,
            rsv1: true,
            rsv2: false,
            rsv3: false,
            opcode: OpCode::Data(if text { Data::Text } else { Data::Binary }),
            mask: Some(self.next_mask()),
        };
        self.out.clear();
        header
            .format(payload.len() as u64, &mut self.out)
            .map_err(|e| e.to_string())?;
        let mask = header.mask.unwrap_or_default();
        self.out
            .extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream
            .write_all(&self.out)
            .await
            .map_err(|e| format!("write: {e}"))?;
        let (opcode, compressed) = self.read_message().await?;
        let want = if text { Data::Text } else { Data::Binary };
        if opcode != want {
            return Err(format!("echo came back as {opcode:?}, sent {want:?}"));
        }
        let got: &[u8] = if compressed {
            self.compressed_replies += 1;
            if self.params.server_no_context_takeover {
                self.decompress.reset(false);
            }
            self.message.extend_from_slice(&TAIL);
            self.inflated.clear();
            inflate(&mut self.decompress, &self.message, &mut self.inflated)?;
            &self.inflated
        } else {
            &self.message
        };
        if got != msg {
            return Err(format!(
                "echo differs: sent {} bytes, got {} bytes",
                msg.len(),
                got.len()
            ));
        }
        Ok(())
    }

    /// Reads frames into `self.message` until a final data frame; answers
    /// pings. Returns the message's opcode and whether RSV1 was set.
    async fn read_message(&mut self) -> Result<(Data, bool), String> {
        self.message.clear();
        let mut first: Option<(Data, bool)> = None;
        loop {
            let (header, len, start) = loop {
                let mut cur = Cursor::new(&self.rbuf[..]);
                match FrameHeader::parse(&mut cur).map_err(|e| format!("frame: {e}"))? {
                    Some((h, len)) if self.rbuf.len() as u64 >= cur.position() + len => {
                        break (h, len as usize, cur.position() as usize)
                    }
                    _ => self.fill().await?,
                }
            };
            if header.mask.is_some() || header.rsv2 || header.rsv3 {
                return Err(format!("bad server frame header {header:?}"));
            }
            let body = start..start + len;
            match header.opcode {
                OpCode::Control(Control::Ping) => {
                    let data = self.rbuf[body.clone()].to_vec();
                    self.rbuf.drain(..body.end);
                    self.pong(&data).await?;
                    continue;
                }
                OpCode::Control(Control::Pong) => {}
                OpCode::Control(c) => return Err(format!("server sent {c:?}")),
                OpCode::Data(Data::Continue) if first.is_some() => {
                    self.message.extend_from_slice(&self.rbuf[body.clone()]);
                }
                OpCode::Data(d) if first.is_none() && d != Data::Continue => {
                    first = Some((d, header.rsv1));
                    self.message.extend_from_slice(&self.rbuf[body.clone()]);
                }
                OpCode::Data(d) => return Err(format!("unexpected {d:?} frame")),
            }
            self.rbuf.drain(..body.end);
            if header.is_final && matches!(header.opcode, OpCode::Data(_)) {
                return first.ok_or_else(|| "no data frame".into());
            }
        }
    }

    async fn fill(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 32 * 1024];
        let n = self
            .stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("server closed the connection".into());
        }
        self.rbuf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Sends a close (1000) and waits for the server's close or EOF.
    pub async fn close(&mut self) {
        if self
            .control(Control::Close, &1000u16.to_be_bytes())
            .await
            .is_err()
        {
            return;
        }
        loop {
            let mut cur = Cursor::new(&self.rbuf[..]);
            match FrameHeader::parse(&mut cur) {
                Ok(Some((h, len))) if self.rbuf.len() as u64 >= cur.position() + len => {
                    if h.opcode == OpCode::Control(Control::Close) {
                        return;
                    }
                    self.rbuf.drain(..(cur.position() + len) as usize);
                }
                Ok(_) => {
                    if self.fill().await.is_err() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    }

    async fn pong(&mut self, data: &[u8]) -> Result<(), String> {
        self.control(Control::Pong, data).await
    }

    async fn control(&mut self, kind: Control, data: &[u8]) -> Result<(), String> {
        let header = FrameHeader {
            is_final: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode: OpCode::Control(kind),
            mask: Some(self.next_mask()),
        };
        let mut out = Vec::new();
        header
            .format(data.len() as u64, &mut out)
            .map_err(|e| e.to_string())?;
        let mask = header.mask.unwrap_or_default();
        out.extend(data.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream
            .write_all(&out)
            .await
            .map_err(|e| format!("write {kind:?}: {e}"))
    }
}

/// Raw deflate of `input` with a sync flush, tail removed.
fn deflate(c: &mut Compress, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let start_in = c.total_in();
    loop {
        let done = (c.total_in() - start_in) as usize;
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(256));
        }
        c.compress_vec(&input[done..], out, FlushCompress::Sync)
            .map_err(|e| format!("deflate: {e}"))?;
        let done = (c.total_in() - start_in) as usize;
        // A sync flush is complete once all input is in and output had room.
        if done == input.len() && out.capacity() - out.len() >= 64 {
            break;
        }
    }
    if !out.ends_with(&TAIL) {
        return Err("deflate output lacks the sync-flush tail".into());
    }
    out.truncate(out.len() - TAIL.len());
    Ok(())
}

/// Raw inflate of a whole message (tail appended) into `out`.
fn inflate(d: &mut Decompress, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let start_in = d.total_in();
    loop {
        let done = (d.total_in() - start_in) as usize;
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(4096));
        }
        let status = d
            .decompress_vec(&input[done..], out, FlushDecompress::Sync)
            .map_err(|e| format!("inflate: {e}"))?;
        let done = (d.total_in() - start_in) as usize;
        if done == input.len() && out.capacity() > out.len() {
            return Ok(());
        }
        if status == Status::StreamEnd {
            return Err("compressed message ended the deflate stream (BFINAL)".into());
        }
        if out.len() > 64 << 20 {
            return Err("inflated past 64 MiB".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deflate_then_inflate_round_trips() {
        let msg = crate::payload::message(1024, true);
        let mut c = Compress::new(Compression::default(), false);
        let mut z = Vec::new();
        deflate(&mut c, &msg, &mut z).expect("deflate");
        assert!(z.len() < msg.len() / 2, "{} bytes", z.len());
        z.extend_from_slice(&TAIL);
        let mut d = Decompress::new(false);
        let mut out = Vec::new();
        inflate(&mut d, &z, &mut out).expect("inflate");
        assert_eq!(out, msg);
    }
}
