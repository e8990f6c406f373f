//! Without the `deflate` feature: permessage-deflate is never negotiated
//! (the server declines every offer, the client offers nothing and refuses
//! a response that accepts it), so a connection never has a compressor or
//! decompressor. These types have no values; the code that would use one
//! is unreachable by construction, not by a runtime check.

use crate::error::Error;
use crate::message::MessageBuf;

/// Never constructed without the `deflate` feature.
pub(crate) enum Inflater {}

impl Inflater {
    pub(crate) fn is_allocated(&self) -> bool {
        match *self {}
    }

    pub(crate) fn feed(&mut self, _: &[u8], _: &mut MessageBuf, _: usize) -> Result<(), Error> {
        match *self {}
    }

    pub(crate) fn finish(&mut self, _: &mut MessageBuf, _: usize) -> Result<(), Error> {
        match *self {}
    }
}

/// Never constructed without the `deflate` feature.
pub(crate) enum Deflater {}

impl Deflater {
    pub(crate) fn is_allocated(&self) -> bool {
        match *self {}
    }

    pub(crate) fn compress(&mut self, _: &[u8], _: bool, _: &mut Vec<u8>) {
        match *self {}
    }
}

/// How many compressors and decompressors this thread's pool holds: none,
/// without the `deflate` feature.
pub fn pooled_states() -> (usize, usize) {
    (0, 0)
}
