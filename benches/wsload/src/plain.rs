//! Echo without extensions on fastwebsockets' client role (masked frames,
//! fragments collected).

use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload, Role, WebSocket};
use tokio::net::TcpStream;

/// One connection's send-and-wait loop over fastwebsockets.
pub struct Plain {
    ws: FragmentCollector<TcpStream>,
    scratch: Vec<u8>,
}

impl Plain {
    /// Wraps an upgraded socket.
    pub fn new(stream: TcpStream) -> Plain {
        let mut ws = WebSocket::after_handshake(stream, Role::Client);
        ws.set_auto_pong(true);
        ws.set_auto_close(true);
        ws.set_max_message_size(64 << 20);
        Plain {
            ws: FragmentCollector::new(ws),
            scratch: Vec::new(),
        }
    }

    /// Sends `msg` as one text (or binary) message and checks the echo.
    pub async fn round_trip(&mut self, msg: &[u8], text: bool) -> Result<(), String> {
        let opcode = if text { OpCode::Text } else { OpCode::Binary };
        // Masking rewrites the payload in place, so it goes from a copy.
        self.scratch.clear();
        self.scratch.extend_from_slice(msg);
        self.ws
            .write_frame(Frame::new(
                true,
                opcode,
                None,
                Payload::BorrowedMut(&mut self.scratch),
            ))
            .await
            .map_err(|e| format!("write: {e}"))?;
        let frame = self
            .ws
            .read_frame()
            .await
            .map_err(|e| format!("read: {e}"))?;
        if frame.opcode != opcode {
            return Err(format!(
                "echo came back as {:?}, sent {opcode:?}",
                frame.opcode
            ));
        }
        if &frame.payload[..] != msg {
            return Err(format!(
                "echo differs: sent {} bytes, got {} bytes",
                msg.len(),
                frame.payload.len()
            ));
        }
        Ok(())
    }

    /// Sends a close (1000) and waits for the server's close or EOF.
    pub async fn close(&mut self) {
        if self.ws.write_frame(Frame::close(1000, b"")).await.is_err() {
            return;
        }
        while let Ok(f) = self.ws.read_frame().await {
            if f.opcode == OpCode::Close {
                break;
            }
        }
    }
}
