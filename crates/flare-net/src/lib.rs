//! Non-blocking sockets for flare: TCP, UDP and Unix sockets with typed errors.
