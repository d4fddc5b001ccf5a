//! The `relais` binary as an operator uses it: configuration layers and their errors, first admin, tokens,
//! import from the command line, demo data, and `serve` stopping cleanly on SIGTERM.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn relais(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_relais"));
    command.args(args).current_dir(dir).env_remove("RUST_LOG");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("relais runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn an_invalid_configuration_is_reported_at_once_with_every_key_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[server]\nlisten = \"partout\"\n[security]\nsession_hours = 0\n",
    )
    .unwrap();
    let output = relais(
        dir.path(),
        &["--config", "bad.toml", "migrate"],
        &[("RELAIS_LOG__FORMAT", "xml")],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let message = text(&output);
    for key in ["server.listen", "security.session_hours", "log.format"] {
        assert!(message.contains(key), "{key} missing from:\n{message}");
    }
    assert!(
        !dir.path().join("data").exists(),
        "nothing created with a bad configuration"
    );
}

#[test]
fn environment_variables_override_the_file_and_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("relais.toml"),
        "[database]\nurl = \"sqlite://from-file/relais.db\"\n",
    )
    .unwrap();
    let output = relais(dir.path(), &["--config", "relais.toml", "migrate"], &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(dir.path().join("from-file/relais.db").exists());
    let output = relais(
        dir.path(),
        &["--config", "relais.toml", "migrate"],
        &[("RELAIS_DATABASE__URL", "sqlite://from-env/relais.db")],
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(dir.path().join("from-env/relais.db").exists());
}

#[test]
fn the_first_admin_a_token_an_import_and_the_demo_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let password = [("RELAIS_PASSWORD", "un mot de passe solide")];
    let output = relais(
        dir.path(),
        &[
            "user",
            "add",
            "--email",
            "Admin@CNDH.example",
            "--name",
            "Admin",
            "--role",
            "admin",
        ],
        &password,
    );
    assert!(output.status.success(), "{}", text(&output));
    let again = relais(
        dir.path(),
        &[
            "user",
            "add",
            "--email",
            "admin@cndh.example",
            "--name",
            "Admin",
            "--role",
            "admin",
        ],
        &password,
    );
    assert!(
        !again.status.success() && text(&again).contains("existe déjà"),
        "{}",
        text(&again)
    );
    let relay = relais(
        dir.path(),
        &[
            "user",
            "add",
            "--email",
            "r@asso.example",
            "--name",
            "R",
            "--role",
            "relay",
        ],
        &password,
    );
    assert!(
        !relay.status.success() && text(&relay).contains("--association"),
        "{}",
        text(&relay)
    );
    let relay = relais(
        dir.path(),
        &[
            "user",
            "add",
            "--email",
            "r@asso.example",
            "--name",
            "R",
            "--role",
            "relay",
            "--association",
            "Asso 13",
            "--territories",
            "13,Vaucluse",
        ],
        &password,
    );
    assert!(relay.status.success(), "{}", text(&relay));
    let list = text(&relais(dir.path(), &["user", "list"], &[]));
    assert!(
        list.contains("admin@cndh.example") && list.contains("13, 84"),
        "{list}"
    );

    let token = relais(
        dir.path(),
        &["token", "create", "--name", "script", "--role", "viewer"],
        &[],
    );
    assert!(token.status.success());
    assert_eq!(
        String::from_utf8_lossy(&token.stdout).trim().len(),
        43,
        "the token alone on stdout"
    );

    std::fs::write(
        dir.path().join("cibles.csv"),
        "Collectivité;Département;Statut\nLyon;69;Contactée\nVilleurbane;69;Identifiée\n",
    )
    .unwrap();
    let dry = relais(
        dir.path(),
        &["import", "targets", "cibles.csv", "--dry-run"],
        &[],
    );
    assert_eq!(
        dry.status.code(),
        Some(1),
        "an unknown row fails the dry run: {}",
        text(&dry)
    );
    assert!(
        text(&dry).contains("ligne 3") && text(&dry).contains("Villeurbanne"),
        "suggestion listed: {}",
        text(&dry)
    );
    std::fs::write(
        dir.path().join("cibles.csv"),
        "Collectivité;Département;Statut\nLyon;69;Contactée\nVilleurbanne;69;Identifiée\n",
    )
    .unwrap();
    let import = relais(dir.path(), &["import", "targets", "cibles.csv"], &[]);
    assert!(import.status.success(), "{}", text(&import));
    assert!(text(&import).contains("2 créées"), "{}", text(&import));

    let demo = relais(dir.path(), &["demo"], &[]);
    assert!(
        !demo.status.success() && text(&demo).contains("base vide"),
        "the demo refuses a database in use: {}",
        text(&demo)
    );
}

#[test]
fn serve_answers_then_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_relais"))
        .arg("serve")
        .current_dir(dir.path())
        .env("RELAIS_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("RELAIS_INBOUND__LMTP_LISTEN", "127.0.0.1:0")
        .env("RELAIS_LOG__FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "relais serve did not start"
        );
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        dir.path().join("data/relais.db").exists(),
        "SQLite in ./data by default"
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "exit status {:?}", output.status);
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(
        logs.lines().all(|l| l.starts_with('{')),
        "JSON log lines:\n{logs}"
    );
    assert!(logs.contains("relais stopped"), "{logs}");
}

#[test]
fn send_test_delivers_through_the_configured_transport_and_refuses_a_bad_address() {
    let dir = tempfile::tempdir().unwrap();
    let output = relais(
        dir.path(),
        &["send-test", "--to", "equipe@romeurope.example"],
        &[],
    );
    assert!(output.status.success(), "{}", text(&output));
    let said = text(&output);
    assert!(said.contains(": sent"), "{said}");
    // The default folder transport: the copy is a file under the data folder.
    let files: Vec<_> = std::fs::read_dir(dir.path().join("data/outbox"))
        .expect("outbox folder")
        .flatten()
        .collect();
    assert_eq!(files.len(), 1);
    let raw = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(raw.contains("equipe@romeurope.example"), "{raw}");

    let output = relais(dir.path(), &["send-test", "--to", "pas-une-adresse"], &[]);
    assert!(!output.status.success());
    assert!(text(&output).contains("il manque"), "{}", text(&output));
}
