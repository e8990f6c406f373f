//! The facade: a fresh Cargo project whose only dependency is `flare` serves HTTPS
//! (a throwaway certificate from `flare::tls`) and calls itself with
//! `flare::client`, over HTTP/1.1 and HTTP/2 (ALPN). It builds offline against the
//! workspace's lock file and target directory, so only the new binary is compiled.

use std::path::PathBuf;
use std::process::Command;

const MAIN: &str = r#"
use flare::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (cert, key) = flare::tls::self_signed(&["localhost"])?;
    let tls = flare::tls::ServerConfig::builder()
        .cert_pem(&cert, &key)
        .alpn(&[b"h2", b"http/1.1"])
        .build()?;
    let router = Router::new().get("/hello/{name}", |Path(name): Path<String>| {
        format!("hello {name} from a fresh project")
    });
    let server = HttpServer::bind("127.0.0.1:0")?.workers(1).tls(tls).start(router)?;
    let port = server.local_addr().port();
    let client = flare::client::Client::builder()
        .add_root_certificate_pem(&cert)
        .build()?;
    let resp = client.get(format!("https://localhost:{port}/hello/you")).send()?;
    println!("status {} version {:?}", resp.status(), resp.version());
    let body = resp.text()?;
    assert_eq!(body, "hello you from a fresh project");
    println!("facade: ok");
    server.shutdown(std::time::Duration::from_millis(100));
    server.join()?;
    Ok(())
}
"#;

#[test]
fn a_project_with_only_flare_serves_tls_and_calls_the_client() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .canonicalize()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("flare-facade-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"fresh\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\nflare = {{ path = \"{}\", features = [\"self-signed\"] }}\n\n\
             [workspace]\n",
            root.join("crates/flare").display()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("src/main.rs"), MAIN).unwrap();
    // The workspace's versions, so nothing new is fetched or compiled but `fresh`.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let out = Command::new(env!("CARGO"))
        .args(["run", "--offline", "--quiet"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", root.join("target/facade"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("facade: ok"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    println!("{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}
