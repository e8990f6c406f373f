//! The readiness reactor under every flare worker.
//!
//! - [`Poller`]: register file descriptors with a [`Token`] and an [`Interest`], then
//!   [`poll`](Poller::poll) for readiness [`Event`]s. The backend is chosen per OS
//!   behind the small [`Backend`] trait: epoll on Linux and Android, kqueue on macOS and
//!   the BSDs.
//! - [`Waker`]: wakes a poller from another thread (eventfd on Linux, a pipe elsewhere).
//! - [`TimerWheel`]: a hashed timer wheel with O(1) schedule and cancel, driven by an
//!   explicit `now` so it runs on a virtual clock in tests. [`TimerWheel::next_deadline`]
//!   gives the poll timeout.
//! - [`uring::Ring`] (Linux): a completion ring over io_uring, for workers that queue
//!   their receives and sends and hand them to the kernel in one syscall per turn.
//!
//! ```no_run
//! use flare_reactor::{Events, Interest, Mode, Poller, Token};
//! use std::time::Duration;
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! listener.set_nonblocking(true)?;
//! let mut poller = Poller::new()?;
//! poller.register(&listener, Token(0), Interest::READABLE, Mode::Level)?;
//! let mut events = Events::with_capacity(256);
//! poller.poll(&mut events, Some(Duration::from_millis(10)))?;
//! for ev in events.iter() {
//!     assert_eq!(ev.token(), Token(0));
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

mod event;
mod poller;
mod sys;
mod timer;
#[cfg(all(target_os = "linux", feature = "io-uring"))]
pub mod uring;
mod waker;

pub use event::{Event, Events, Interest, Mode, Token};
pub use poller::{Backend, Poller};
pub use sys::DefaultBackend;
pub use timer::{TimerId, TimerWheel};
pub use waker::Waker;
