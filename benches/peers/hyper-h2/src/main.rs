//! hyper 1.x serving HTTP/2 only, on one current-thread tokio runtime (the
//! shape of a one-worker server): h2c with prior knowledge on `--addr`, and
//! h2 over rustls (ALPN `h2`) on `--tls-addr` when `--tls-cert` and
//! `--tls-key` are given. Both answer `/plaintext` and `/json`.

mod service;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

struct Args {
    addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

fn usage(detail: &str) -> ! {
    eprintln!(
        "{detail}; usage: hyper-h2 [--addr HOST:PORT] [--tls-addr HOST:PORT --tls-cert PEM --tls-key PEM]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        addr: "127.0.0.1:8080".parse().expect("literal"),
        tls_addr: None,
        cert: None,
        key: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let Some(value) = it.next() else {
            usage(&format!("`{flag}` needs a value"))
        };
        let addr = |v: &str| {
            v.parse::<SocketAddr>()
                .unwrap_or_else(|_| usage(&format!("bad address `{v}`")))
        };
        match flag.as_str() {
            "--addr" => a.addr = addr(&value),
            "--tls-addr" => a.tls_addr = Some(addr(&value)),
            "--tls-cert" => a.cert = Some(value.into()),
            "--tls-key" => a.key = Some(value.into()),
            _ => usage(&format!("unknown flag `{flag}`")),
        }
    }
    if a.tls_addr.is_some() != (a.cert.is_some() && a.key.is_some()) {
        usage("--tls-addr, --tls-cert and --tls-key go together");
    }
    a
}

fn tls_acceptor(cert: &PathBuf, key: &PathBuf) -> TlsAcceptor {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .unwrap_or_else(|e| usage(&format!("{}: {e}", cert.display())));
    let key = PrivateKeyDer::from_pem_file(key)
        .unwrap_or_else(|e| usage(&format!("{}: {e}", key.display())));
    // ring's provider, as flare's default build uses (deprecated in newer
    // rustls 0.23 releases only for lacking post-quantum key exchange).
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .unwrap_or_else(|e| usage(&format!("TLS configuration: {e}")));
    config.alpn_protocols = vec![b"h2".to_vec()];
    TlsAcceptor::from(Arc::new(config))
}

/// Serves one connection as HTTP/2 until the peer goes away.
async fn serve<IO>(io: IO)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let _ = http2::Builder::new(TokioExecutor::new())
        .max_concurrent_streams(128)
        .serve_connection(TokioIo::new(io), service_fn(service::serve))
        .await;
}

fn main() {
    let args = parse_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let plain = TcpListener::bind(args.addr)
            .await
            .unwrap_or_else(|e| usage(&format!("bind {}: {e}", args.addr)));
        if let (Some(addr), Some(cert), Some(key)) = (args.tls_addr, &args.cert, &args.key) {
            let acceptor = tls_acceptor(cert, key);
            let listener = TcpListener::bind(addr)
                .await
                .unwrap_or_else(|e| usage(&format!("bind {addr}: {e}")));
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        if let Ok(tls) = acceptor.accept(stream).await {
                            serve(tls).await;
                        }
                    });
                }
            });
        }
        loop {
            let Ok((stream, _)) = plain.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(serve(stream));
        }
    })
}
