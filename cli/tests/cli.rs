//! End-to-end tests of the `esdk` binary: round trips, inspect, generate-key, usage errors,
//! and tampered or refused messages (exit 1, one stderr line, no OUT left behind).

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine;
use esdk::{Error, FormatError, HeaderBody, LimitError, PolicyError};
use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_esdk");

/// Runs the binary with no standard input.
fn esdk(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run esdk")
}

/// Runs the binary with `input` on standard input.
fn esdk_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn esdk");
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        // The child may stop reading early (inspect, failures): ignore broken pipes.
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait esdk");
    writer.join().unwrap();
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status.code(),
        stderr(out)
    );
    assert!(out.stderr.is_empty(), "stderr: {}", stderr(out));
}

/// Exit 1 and exactly one stderr line, `esdk: LINE`.
#[track_caller]
fn assert_fails(out: &Output, line: &str) {
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(out));
    assert_eq!(stderr(out), format!("esdk: {line}\n"));
}

#[track_caller]
fn assert_usage(out: &Output) {
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(out));
    assert!(!out.stderr.is_empty());
}

/// Deterministic plaintext.
fn sample(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A scratch directory with key files in it.
struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn p(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        std::fs::write(self.path(name), bytes).unwrap();
        self.p(name)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    fn exists(&self, name: &str) -> bool {
        self.path(name).symlink_metadata().is_ok()
    }

    /// Creates a key file with `esdk generate-key`.
    fn key(&self, file: &str, bits: u32) -> String {
        let out = esdk(&[
            "generate-key",
            "-o",
            &self.p(file),
            "--bits",
            &bits.to_string(),
        ]);
        assert_ok(&out);
        self.p(file)
    }

    /// A SPEC for key `name` held in `file` (created at 256 bits if missing).
    fn spec(&self, name: &str, file: &str) -> String {
        if !self.exists(file) {
            self.key(file, 256);
        }
        format!("aes:namespace=test,name={name},key=@{}", self.p(file))
    }

    /// Names of the files in the directory (to spot leftovers).
    fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn assert_no_temp_files(&self) {
        let listing = self.listing();
        assert!(
            listing.iter().all(|n| !n.starts_with(".esdk-")),
            "leftover temporary files: {listing:?}"
        );
    }

    /// Encrypts file `input` to `output` with the given keys and extra options.
    fn encrypt(&self, input: &str, output: &str, specs: &[&str], extra: &[&str]) -> Output {
        let (i, o) = (self.p(input), self.p(output));
        let mut args = vec!["encrypt", "-i", &i, "-o", &o];
        for s in specs {
            args.extend(["--wrapping-key", s]);
        }
        args.extend_from_slice(extra);
        esdk(&args)
    }

    fn decrypt(&self, input: &str, output: &str, specs: &[&str], extra: &[&str]) -> Output {
        let (i, o) = (self.p(input), self.p(output));
        let mut args = vec!["decrypt", "-i", &i, "-o", &o];
        for s in specs {
            args.extend(["--wrapping-key", s]);
        }
        args.extend_from_slice(extra);
        esdk(&args)
    }

    /// Encrypts `plaintext`, returns the message bytes.
    fn message(&self, plaintext: &[u8], specs: &[&str], extra: &[&str]) -> Vec<u8> {
        self.write("msg.pt", plaintext);
        assert_ok(&self.encrypt("msg.pt", "msg.esdk", specs, extra));
        self.read("msg.esdk")
    }

    /// Decrypting `message` fails with `err`, leaves no OUT and no temporary file.
    #[track_caller]
    fn assert_decrypt_fails(&self, message: &[u8], specs: &[&str], extra: &[&str], err: &Error) {
        self.write("bad.esdk", message);
        let _ = std::fs::remove_file(self.path("bad.out"));
        let out = self.decrypt("bad.esdk", "bad.out", specs, extra);
        assert_fails(&out, &format!("decrypt failed: {err}"));
        assert!(!self.exists("bad.out"), "OUT exists after a failure");
        self.assert_no_temp_files();
    }
}

/// Offsets in a framed v2 message: (header body + auth length, frame length).
fn layout(message: &[u8]) -> (usize, usize) {
    let (header, len) = HeaderBody::parse(message, None).expect("header");
    let auth = match header.version().byte() {
        1 => 12 + 16,
        _ => 16,
    };
    (len + auth, header.frame_length as usize)
}

fn flip(message: &[u8], at: usize) -> Vec<u8> {
    let mut m = message.to_vec();
    m[at] ^= 0x01;
    m
}

fn inspect_json(out: &Output) -> Value {
    assert_ok(out);
    serde_json::from_slice(&out.stdout).expect("inspect prints JSON")
}

#[test]
fn round_trips_suites_key_sizes_and_frame_lengths() {
    let env = Env::new();
    let cases: &[(&str, u32, &str, &[&str])] = &[
        ("0x0578", 256, "4096", &[]),
        ("0x0478", 128, "100", &[]),
        (
            "AES_256_GCM_HKDF_SHA512_COMMIT_KEY",
            192,
            "1",
            &["--commitment-policy", "require-encrypt-allow-decrypt"],
        ),
        (
            "0x0378",
            192,
            "4096",
            &["--commitment-policy", "forbid-encrypt-allow-decrypt"],
        ),
        (
            "0x0178",
            256,
            "512",
            &["--commitment-policy", "forbid-encrypt-allow-decrypt"],
        ),
        (
            "0x0214",
            128,
            "333",
            &["--commitment-policy", "forbid-encrypt-allow-decrypt"],
        ),
        (
            "aes_128_gcm_iv12_tag16_no_kdf",
            128,
            "4096",
            &["--commitment-policy", "forbid-encrypt-allow-decrypt"],
        ),
    ];
    for (i, (suite, bits, frame, policy)) in cases.iter().enumerate() {
        let keyfile = format!("k{i}.key");
        env.key(&keyfile, *bits);
        let spec = env.spec("rt", &keyfile);
        for len in [0usize, 1, 4096, 20_000] {
            if *frame == "1" && len > 4096 {
                continue;
            }
            let pt = sample(len);
            env.write("pt", &pt);
            let mut extra = vec!["--algorithm", suite, "--frame-length", frame];
            extra.extend_from_slice(policy);
            assert_ok(&env.encrypt("pt", "ct", &[&spec], &extra));
            let ct = env.read("ct");
            let (header, _) = HeaderBody::parse(&ct, None).unwrap();
            assert_eq!(
                Some(header.suite),
                esdk::AlgorithmSuite::parse(suite),
                "{suite}"
            );
            assert_eq!(header.frame_length.to_string(), *frame);
            assert_ok(&env.decrypt("ct", "out", &[&spec], policy));
            assert_eq!(env.read("out"), pt, "suite {suite} len {len}");
        }
    }
    env.assert_no_temp_files();
}

#[test]
fn readme_demo_with_the_sample_file() {
    let env = Env::new();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/orders.csv");
    let original = std::fs::read(&sample).expect("samples/orders.csv");
    assert!((100_000..=300_000).contains(&original.len()));
    let key = env.key("demo.key", 256);
    let spec = format!("aes:namespace=demo,name=demo-key,key=@{key}");
    let ct = env.p("orders.csv.esdk");
    let out = esdk(&[
        "encrypt",
        "-i",
        sample.to_str().unwrap(),
        "-o",
        &ct,
        "--wrapping-key",
        &spec,
    ]);
    assert_ok(&out);
    let json = inspect_json(&esdk(&["inspect", "-i", &ct]));
    assert_eq!(json["algorithm_suite"]["id"], "0x0578");
    assert_eq!(json["encrypted_data_keys"][0]["provider_id"], "demo");
    let pt = env.p("orders.out.csv");
    assert_ok(&esdk(&[
        "decrypt",
        "-i",
        &ct,
        "-o",
        &pt,
        "--wrapping-key",
        &spec,
    ]));
    assert_eq!(std::fs::read(&pt).unwrap(), original);
}

#[test]
fn stdin_and_stdout() {
    let env = Env::new();
    let spec = env.spec("io", "io.key");
    let pt = sample(70_000);
    let enc = esdk_with_stdin(
        &["encrypt", "-i", "-", "-o", "-", "--wrapping-key", &spec],
        &pt,
    );
    assert_ok(&enc);
    assert!(enc.stdout.len() > pt.len());
    let dec = esdk_with_stdin(
        &["decrypt", "-i", "-", "-o", "-", "--wrapping-key", &spec],
        &enc.stdout,
    );
    assert_ok(&dec);
    assert_eq!(dec.stdout, pt);

    // Mixed: file in, stdout out, and stdin in, file out.
    env.write("ct", &enc.stdout);
    let ct_path = env.p("ct");
    let dec = esdk(&[
        "decrypt",
        "-i",
        &ct_path,
        "-o",
        "-",
        "--wrapping-key",
        &spec,
    ]);
    assert_ok(&dec);
    assert_eq!(dec.stdout, pt);
    let out_path = env.p("out");
    let dec = esdk_with_stdin(
        &[
            "decrypt",
            "-i",
            "-",
            "-o",
            &out_path,
            "--wrapping-key",
            &spec,
        ],
        &enc.stdout,
    );
    assert_ok(&dec);
    assert_eq!(env.read("out"), pt);
}

#[test]
fn decrypt_to_stdout_streams_verified_frames_then_fails() {
    let env = Env::new();
    let spec = env.spec("s", "s.key");
    let pt = sample(10 * 4096 + 100);
    let m = env.message(&pt, &[&spec], &[]);
    let (start, frame) = layout(&m);
    let cut = start + 8 * (4 + 12 + frame + 16);
    let out = esdk_with_stdin(
        &["decrypt", "-i", "-", "-o", "-", "--wrapping-key", &spec],
        &m[..cut],
    );
    assert_fails(
        &out,
        &format!("decrypt failed: {}", Error::Format(FormatError::Truncated)),
    );
    // The eight verified regular frames came out before the failure; the rest did not.
    assert_eq!(out.stdout, pt[..8 * frame]);
}

/// `--threads`: a multi-threaded encryption decrypts with any thread count, a flipped bit
/// fails a multi-threaded decryption with exit 1 and no output, and 0 threads is a usage
/// error.
#[test]
fn threads_encrypt_and_decrypt_the_same_message() {
    let env = Env::new();
    let spec = env.spec("t", "t.key");
    // Five batches of two threads at 64 KiB frames (2 MiB per thread), and a short final
    // frame.
    let pt = sample((20 << 20) + 123);
    env.write("pt", &pt);
    let (pt_path, ct_path) = (env.p("pt"), env.p("ct"));
    let enc = esdk(&[
        "encrypt",
        "-i",
        &pt_path,
        "-o",
        &ct_path,
        "--wrapping-key",
        &spec,
        "--frame-length",
        "65536",
        "--threads",
        "2",
    ]);
    assert_ok(&enc);
    for threads in ["1", "2", "3"] {
        let out = env.p("out");
        let dec = esdk(&[
            "decrypt",
            "-i",
            &ct_path,
            "-o",
            &out,
            "--wrapping-key",
            &spec,
            "--threads",
            threads,
        ]);
        assert_ok(&dec);
        assert!(env.read("out") == pt, "{threads} threads");
        std::fs::remove_file(env.path("out")).unwrap();
    }
    let mut bad = env.read("ct");
    let (start, frame) = layout(&bad);
    // Inside the content of frame 100, in the second batch of 64 frames.
    bad[start + 100 * (4 + 12 + frame + 16) + 4 + 12 + 7] ^= 0x10;
    env.write("bad", &bad);
    let out = env.p("out");
    let dec = esdk(&[
        "decrypt",
        "-i",
        &env.p("bad"),
        "-o",
        &out,
        "--wrapping-key",
        &spec,
        "--threads",
        "2",
    ]);
    assert_fails(
        &dec,
        &format!("decrypt failed: {}", Error::AuthenticationFailed),
    );
    assert!(!env.path("out").exists());
    assert_usage(&esdk(&[
        "encrypt",
        "-i",
        &pt_path,
        "-o",
        &out,
        "--wrapping-key",
        &spec,
        "--threads",
        "0",
    ]));
    assert!(!env.path("out").exists());
}

#[test]
fn two_wrapping_keys_either_decrypts() {
    let env = Env::new();
    let a = env.spec("key-a", "a.key");
    let b = env.spec("key-b", "b.key");
    let c = env.spec("key-c", "c.key");
    let pt = sample(9000);
    let m = env.message(&pt, &[&a, &b], &[]);
    env.write("two.esdk", &m);
    for keys in [vec![&a], vec![&b], vec![&c, &b], vec![&b, &a]] {
        let keys: Vec<&str> = keys.iter().map(|s| s.as_str()).collect();
        assert_ok(&env.decrypt("two.esdk", "out", &keys, &[]));
        assert_eq!(env.read("out"), pt);
        std::fs::remove_file(env.path("out")).unwrap();
    }
    env.assert_decrypt_fails(&m, &[&c], &[], &Error::NoMatchingDataKey);

    let json = inspect_json(&esdk(&["inspect", "-i", &env.p("two.esdk")]));
    let edks = json["encrypted_data_keys"].as_array().unwrap();
    assert_eq!(edks.len(), 2);
    for (edk, name) in edks.iter().zip(["key-a", "key-b"]) {
        assert_eq!(edk["provider_id"], "test");
        let info = base64::engine::general_purpose::STANDARD
            .decode(edk["provider_info_base64"].as_str().unwrap())
            .unwrap();
        assert!(info.starts_with(name.as_bytes()), "{edk}");
        assert_eq!(edk["key_name"], name);
    }
}

#[test]
fn inspect_prints_the_header_fields() {
    let env = Env::new();
    let spec = env.spec("k1", "k1.key");
    let m = env.message(
        &sample(5000),
        &[&spec],
        &[
            "--algorithm",
            "0x0478",
            "--frame-length",
            "1024",
            "-c",
            "purpose=test",
            "-c",
            "equation=a=b",
        ],
    );
    env.write("m.esdk", &m);
    let (header, _) = HeaderBody::parse(&m, None).unwrap();
    let json = inspect_json(&esdk(&["inspect", "-i", &env.p("m.esdk")]));

    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    let mut expected_keys = [
        "algorithm_suite",
        "content_type",
        "encrypted_data_keys",
        "encryption_context",
        "frame_length",
        "message_id",
        "version",
    ];
    expected_keys.sort();
    let mut sorted_keys = keys.clone();
    sorted_keys.sort();
    assert_eq!(sorted_keys, expected_keys);
    assert_eq!(json["version"], 2);
    assert_eq!(json["algorithm_suite"]["id"], "0x0478");
    assert_eq!(
        json["algorithm_suite"]["name"],
        "AES_256_GCM_HKDF_SHA512_COMMIT_KEY"
    );
    let id: String = header
        .message_id
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(json["message_id"], id.as_str());
    assert_eq!(id.len(), 64);
    let ctx: BTreeMap<String, String> =
        serde_json::from_value(json["encryption_context"].clone()).unwrap();
    assert_eq!(
        ctx,
        BTreeMap::from([
            ("equation".to_owned(), "a=b".to_owned()),
            ("purpose".to_owned(), "test".to_owned()),
        ])
    );
    let edks = json["encrypted_data_keys"].as_array().unwrap();
    assert_eq!(edks.len(), 1);
    let edk = &edks[0];
    let info_b64 = base64::engine::general_purpose::STANDARD
        .encode(&header.encrypted_data_keys[0].provider_info);
    assert_eq!(edk["provider_id"], "test");
    // Raw AES provider info is binary (name, lengths, IV): shown as base64.
    assert_eq!(edk["provider_info"], info_b64.as_str());
    assert_eq!(edk["provider_info_base64"], info_b64.as_str());
    assert_eq!(edk["ciphertext_length"], 48);
    assert_eq!(json["content_type"], "framed");
    assert_eq!(json["frame_length"], 1024);

    // A v1 signed message: version 1, a 16-byte ID, and the signing public key in the context.
    let v1 = env.message(
        &sample(10),
        &[&spec],
        &["--commitment-policy", "forbid-encrypt-allow-decrypt"],
    );
    env.write("v1.esdk", &v1);
    let json = inspect_json(&esdk(&["inspect", "-i", &env.p("v1.esdk")]));
    assert_eq!(json["version"], 1);
    assert_eq!(json["algorithm_suite"]["id"], "0x0378");
    assert_eq!(json["message_id"].as_str().unwrap().len(), 32);
    assert!(json["encryption_context"]["aws-crypto-public-key"].is_string());
}

#[test]
fn inspect_reads_only_the_header() {
    let env = Env::new();
    let spec = env.spec("k", "k.key");
    let m = env.message(&sample(300_000), &[&spec], &[]);
    let (len, _) = layout(&m);
    // Standard input holding the header and garbage: the header is all inspect needs.
    let mut input = m[..len - 16].to_vec();
    input.extend_from_slice(b"not a message body");
    let json = inspect_json(&esdk_with_stdin(&["inspect", "-i", "-"], &input));
    assert_eq!(json["algorithm_suite"]["id"], "0x0578");
}

#[test]
fn inspect_refuses_foreign_and_truncated_input() {
    let env = Env::new();
    let csv = env.write("data.csv", b"id,name\n1,alice\n");
    let out = esdk(&["inspect", "-i", &csv]);
    assert_fails(
        &out,
        &format!(
            "inspect failed: the input is not an ESDK message ({})",
            Error::Format(FormatError::UnknownVersion(b'i'))
        ),
    );
    assert!(out.stdout.is_empty());

    let spec = env.spec("k", "k.key");
    let m = env.message(&sample(10), &[&spec], &[]);
    let out = esdk_with_stdin(&["inspect", "-i", "-"], &m[..50]);
    assert_fails(
        &out,
        "inspect failed: truncated message: the input ended inside the header, after 50 bytes",
    );
    let out = esdk_with_stdin(&["inspect", "-i", "-"], b"");
    assert_fails(&out, "inspect failed: the input is empty");
    let missing = env.p("missing");
    let out = esdk(&["inspect", "-i", &missing]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn required_context_pairs_on_decrypt() {
    let env = Env::new();
    let spec = env.spec("k", "k.key");
    let pt = sample(3000);
    let m = env.message(&pt, &[&spec], &["-c", "tenant=acme", "-c", "expr=x=y"]);
    env.write("m.esdk", &m);
    // Present (values with '=' split at the first '=').
    assert_ok(&env.decrypt(
        "m.esdk",
        "out",
        &[&spec],
        &["-c", "tenant=acme", "-c", "expr=x=y"],
    ));
    assert_eq!(env.read("out"), pt);
    // Missing key.
    env.assert_decrypt_fails(
        &m,
        &[&spec],
        &["-c", "tenant=acme", "-c", "region=eu"],
        &Error::Policy(PolicyError::MissingContextPair("region".into())),
    );
    // Different value.
    env.assert_decrypt_fails(
        &m,
        &[&spec],
        &["-c", "tenant=other"],
        &Error::Policy(PolicyError::ContextValueMismatch("tenant".into())),
    );
}

#[test]
fn generate_key_files() {
    let env = Env::new();
    for bits in [128u32, 192, 256] {
        let name = format!("k{bits}");
        let path = env.key(&name, bits);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), u64::from(bits / 8));
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    // Default: 256 bits.
    let default = env.p("default");
    assert_ok(&esdk(&["generate-key", "-o", &default]));
    assert_eq!(env.read("default").len(), 32);
    // Two keys differ.
    assert_ne!(env.read("default"), env.read("k256"));
    // Never overwrites.
    let before = env.read("k128");
    let out = esdk(&["generate-key", "-o", &env.p("k128")]);
    assert_fails(
        &out,
        &format!(
            "generate-key failed: {} already exists; refusing to overwrite it",
            env.p("k128")
        ),
    );
    assert_eq!(env.read("k128"), before);
    // Bad sizes and a missing directory.
    assert_usage(&esdk(&[
        "generate-key",
        "-o",
        &env.p("k512"),
        "--bits",
        "512",
    ]));
    assert!(!env.exists("k512"));
    let out = esdk(&["generate-key", "-o", &env.p("no/such/dir/k")]);
    assert_eq!(out.status.code(), Some(1));
    env.assert_no_temp_files();
}

#[test]
fn usage_errors_exit_2_and_write_nothing() {
    let env = Env::new();
    let spec = env.spec("k", "k.key");
    let input = env.write("in", b"hello");
    let out_path = env.p("out");
    let base = ["encrypt", "-i", &input, "-o", &out_path];
    let cases: Vec<Vec<&str>> = vec![
        vec!["--wrapping-key", &spec, "--frame-length", "0"],
        vec!["--wrapping-key", "aes:namespace=a,name=b"],
        vec!["--wrapping-key", "des:namespace=a,name=b,key=hex:00"],
        vec![
            "--wrapping-key",
            "rsa:namespace=a,name=b,padding=oaep-sha256,public-key=@p.pem",
        ],
        vec![
            "--wrapping-key",
            "aes:namespace=a,name=b,key=@/nonexistent/key",
        ],
        vec!["--wrapping-key", "aes:namespace=a,name=b,key=hex:0011"],
        vec!["--wrapping-key", &spec, "-c", "novalue"],
        vec!["--wrapping-key", &spec, "-c", "a=1", "-c", "a=2"],
        vec!["--wrapping-key", &spec, "-c", "aws-crypto-x=1"],
        vec!["--wrapping-key", &spec, "--algorithm", "0x9999"],
        vec!["--wrapping-key", &spec, "--algorithm", "AES_512_MAGIC"],
        vec!["--wrapping-key", &spec, "--algorithm", "0x0178"],
        vec!["--wrapping-key", &spec, "--commitment-policy", "lax"],
        vec!["--wrapping-key", &spec, "--max-encrypted-data-keys", "0"],
        vec![],
    ];
    for extra in &cases {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let out = esdk(&args);
        assert_usage(&out);
        assert!(!env.exists("out"), "{extra:?}");
    }
    // Our own usage errors are one line.
    let mut args = base.to_vec();
    args.extend(["--wrapping-key", "aes:namespace=a,name=b"]);
    assert_eq!(
        stderr(&esdk(&args)),
        "esdk: invalid --wrapping-key: missing field \"key\"\n"
    );
    args = base.to_vec();
    args.extend([
        "--wrapping-key",
        "rsa:namespace=a,name=b,padding=oaep-sha256,public-key=@p.pem",
    ]);
    assert!(
        stderr(&esdk(&args))
            .starts_with("esdk: invalid --wrapping-key: cannot read key file p.pem"),
        "{}",
        stderr(&esdk(&args))
    );
    // The frame length error says why.
    let mut args = base.to_vec();
    args.extend(["--wrapping-key", &spec, "--frame-length", "0"]);
    assert!(stderr(&esdk(&args)).contains("non-framed messages are never written"));
    // Decrypt: bad -c and bad spec.
    let ct = env.write("ct", b"irrelevant");
    for extra in [
        vec!["--wrapping-key", &spec, "-c", "=x"],
        vec!["--wrapping-key", "aes:name=b"],
        vec!["--wrapping-key", &spec, "--commitment-policy", "none"],
    ] {
        let mut args = vec!["decrypt", "-i", &ct, "-o", &out_path];
        args.extend_from_slice(&extra);
        assert_usage(&esdk(&args));
        assert!(!env.exists("out"));
    }
    env.assert_no_temp_files();
}

#[test]
fn encrypt_failures_leave_no_output() {
    let env = Env::new();
    let a = env.spec("a", "a.key");
    let b = env.spec("b", "b.key");
    env.write("in", b"hello");
    let out = env.encrypt("in", "out", &[&a, &b], &["--max-encrypted-data-keys", "1"]);
    assert_fails(
        &out,
        &format!(
            "encrypt failed: {}",
            Error::Limit(LimitError::TooManyEncryptedDataKeys { count: 2, max: 1 })
        ),
    );
    assert!(!env.exists("out"));
    let out = env.encrypt("missing", "out", &[&a], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("esdk: encrypt failed: cannot open input"));
    assert_eq!(stderr(&out).lines().count(), 1);
    assert!(!env.exists("out"));
    env.assert_no_temp_files();
}

/// The tampering and refusal cases: each exits 1 with one stderr line and leaves no OUT.
#[test]
fn tampered_and_refused_messages() {
    let env = Env::new();
    let spec = env.spec("k", "k.key");
    let pt = sample(5 * 1024 + 300);
    // Signed committing suite, 1 KiB frames: 5 regular frames, a final frame, a signature.
    let m = env.message(&pt, &[&spec], &["--frame-length", "1024"]);
    let (body, frame) = layout(&m);
    let regular = 4 + 12 + frame + 16;
    let auth = Error::AuthenticationFailed;

    // The untouched message decrypts.
    env.write("good.esdk", &m);
    assert_ok(&env.decrypt("good.esdk", "good.out", &[&spec], &[]));
    assert_eq!(env.read("good.out"), pt);

    // Truncated at a frame boundary.
    let truncated = &m[..body + 2 * regular];
    env.assert_decrypt_fails(
        truncated,
        &[&spec],
        &[],
        &Error::Format(FormatError::Truncated),
    );
    // Bytes after the message.
    let mut appended = m.clone();
    appended.extend_from_slice(b"\0extra");
    env.assert_decrypt_fails(
        &appended,
        &[&spec],
        &[],
        &Error::Format(FormatError::TrailingBytes),
    );
    // A bit flipped in the header (the message ID), a frame body, a frame tag, the signature.
    env.assert_decrypt_fails(&flip(&m, 10), &[&spec], &[], &auth);
    env.assert_decrypt_fails(&flip(&m, body + regular + 4 + 12 + 7), &[&spec], &[], &auth);
    env.assert_decrypt_fails(&flip(&m, body + 3 * regular - 5), &[&spec], &[], &auth);
    env.assert_decrypt_fails(&flip(&m, m.len() - 1), &[&spec], &[], &auth);
    // A wrong key (same name) and a wrong key name (same key).
    let wrong_key = env.spec("k", "other.key");
    env.assert_decrypt_fails(&m, &[&wrong_key], &[], &Error::DataKeyUnwrapFailed);
    let wrong_name = format!("aes:namespace=test,name=other,key=@{}", env.p("k.key"));
    env.assert_decrypt_fails(&m, &[&wrong_name], &[], &Error::NoMatchingDataKey);
    // A missing required context pair.
    env.assert_decrypt_fails(
        &m,
        &[&spec],
        &["-c", "purpose=audit"],
        &Error::Policy(PolicyError::MissingContextPair("purpose".into())),
    );
    // A signed message with --unsigned-only.
    env.assert_decrypt_fails(
        &m,
        &[&spec],
        &["--unsigned-only"],
        &Error::Policy(PolicyError::SignedMessageRefused),
    );

    // Too many data keys.
    let second = env.spec("k2", "k2.key");
    let two = env.message(&pt, &[&spec, &second], &[]);
    env.assert_decrypt_fails(
        &two,
        &[&spec],
        &["--max-encrypted-data-keys", "1"],
        &Error::Limit(LimitError::TooManyEncryptedDataKeys { count: 2, max: 1 }),
    );
    env.write("two.esdk", &two);
    assert_ok(&env.decrypt(
        "two.esdk",
        "two.out",
        &[&spec],
        &["--max-encrypted-data-keys", "2"],
    ));

    // A non-committing message under the default policy.
    let v1 = env.message(
        &pt,
        &[&spec],
        &[
            "--algorithm",
            "0x0178",
            "--commitment-policy",
            "forbid-encrypt-allow-decrypt",
        ],
    );
    env.assert_decrypt_fails(
        &v1,
        &[&spec],
        &[],
        &Error::Policy(PolicyError::CommitmentPolicy {
            suite: 0x0178,
            operation: "decrypt",
        }),
    );
    env.write("v1.esdk", &v1);
    assert_ok(&env.decrypt(
        "v1.esdk",
        "v1.out",
        &[&spec],
        &[
            "--commitment-policy",
            "require-encrypt-allow-decrypt",
            "--unsigned-only",
        ],
    ));
    assert_eq!(env.read("v1.out"), pt);
}

#[test]
fn existing_output_survives_a_failed_decrypt() {
    let env = Env::new();
    let spec = env.spec("k", "k.key");
    let m = env.message(&sample(50_000), &[&spec], &[]);
    env.write("bad.esdk", &flip(&m, m.len() / 2));
    let previous = b"precious data that must not be touched".to_vec();
    env.write("keep.txt", &previous);
    std::fs::set_permissions(env.path("keep.txt"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = env.decrypt("bad.esdk", "keep.txt", &[&spec], &[]);
    assert_fails(
        &out,
        &format!("decrypt failed: {}", Error::AuthenticationFailed),
    );
    assert_eq!(env.read("keep.txt"), previous);
    let mode = std::fs::metadata(env.path("keep.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    env.assert_no_temp_files();

    // A failed encrypt (wrong input) leaves it alone too.
    let out = env.encrypt("missing", "keep.txt", &[&spec], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(env.read("keep.txt"), previous);
}

// ---------------------------------------------------------------------------------------
// Raw RSA wrapping keys
// ---------------------------------------------------------------------------------------

/// A file of the RSA test keys (`tests/data/rsa`; 2048-bit pairs `key-a` and `key-b`).
fn rsa_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/rsa")
        .join(name);
    assert!(path.is_file(), "{}", path.display());
    path.to_str().unwrap().to_owned()
}

/// An RSA SPEC for key `name` of namespace `rsa-test` with the given key files.
fn rsa_spec(name: &str, padding: &str, public: Option<&str>, private: Option<&str>) -> String {
    let mut spec = format!("rsa:namespace=rsa-test,name={name},padding={padding}");
    if let Some(p) = public {
        spec += &format!(",public-key=@{}", rsa_file(p));
    }
    if let Some(p) = private {
        spec += &format!(",private-key=@{}", rsa_file(p));
    }
    spec
}

const PADDINGS: [&str; 5] = [
    "pkcs1",
    "oaep-sha1",
    "oaep-sha256",
    "oaep-sha384",
    "oaep-sha512",
];

#[test]
fn rsa_round_trips_every_padding_pem_and_der() {
    let env = Env::new();
    let pt = sample(10_000);
    // Public key files in both PEM forms and both DER forms; private likewise.
    let pairs = [
        ("key-a.spki.pem", "key-a.pkcs8.pem"),
        ("key-a.pub-pkcs1.pem", "key-a.pkcs1.pem"),
        ("key-a.spki.der", "key-a.pkcs8.der"),
        ("key-a.pub-pkcs1.der", "key-a.pkcs1.der"),
        ("key-a.spki.pem", "key-a.pkcs1.der"),
    ];
    for (padding, (public, private)) in PADDINGS.iter().zip(pairs) {
        let enc = rsa_spec("key-a", padding, Some(public), None);
        let dec = rsa_spec("key-a", padding, None, Some(private));
        let both = rsa_spec("key-a", padding, Some(public), Some(private));
        for (suite, policy) in [
            ("0x0578", "require-encrypt-require-decrypt"),
            ("0x0178", "forbid-encrypt-allow-decrypt"),
        ] {
            let extra = ["--algorithm", suite, "--commitment-policy", policy];
            let m = env.message(&pt, &[&enc], &extra);
            env.write("rsa.esdk", &m);
            for spec in [&dec, &both] {
                let _ = std::fs::remove_file(env.path("rsa.out"));
                assert_ok(&env.decrypt("rsa.esdk", "rsa.out", &[spec], &extra[2..]));
                assert_eq!(env.read("rsa.out"), pt, "{padding} {suite}");
            }
        }
        // The key pair in one SPEC encrypts too.
        let m = env.message(&pt, &[&both], &[]);
        env.write("both.esdk", &m);
        assert_ok(&env.decrypt("both.esdk", "both.out", &[&both], &[]));
        assert_eq!(env.read("both.out"), pt);
        std::fs::remove_file(env.path("both.out")).unwrap();
    }
    env.assert_no_temp_files();
}

#[test]
fn rsa_and_aes_keys_mixed() {
    let env = Env::new();
    let aes = env.spec("aes-key", "aes.key");
    let rsa_a = rsa_spec("key-a", "oaep-sha256", Some("key-a.spki.pem"), None);
    let rsa_b = rsa_spec("key-b", "pkcs1", Some("key-b.spki.pem"), None);
    let dec_a = rsa_spec("key-a", "oaep-sha256", None, Some("key-a.pkcs8.pem"));
    let dec_b = rsa_spec("key-b", "pkcs1", None, Some("key-b.pkcs8.pem"));
    let pt = sample(9000);
    // AES generates, RSA wraps; and RSA generates, AES wraps.
    for generators in [
        vec![&aes, &rsa_a, &rsa_b],
        vec![&rsa_a, &aes],
        vec![&rsa_b, &rsa_a],
    ] {
        let specs: Vec<&str> = generators.iter().map(|s| s.as_str()).collect();
        let m = env.message(&pt, &specs, &["-c", "tenant=ключ"]);
        env.write("mix.esdk", &m);
        let json = inspect_json(&esdk(&["inspect", "-i", &env.p("mix.esdk")]));
        let edks = json["encrypted_data_keys"].as_array().unwrap();
        assert_eq!(edks.len(), specs.len());
        for edk in edks {
            if edk["provider_id"] == "rsa-test" {
                // RSA provider info is the key name (text); the ciphertext is the modulus size.
                assert!(edk["provider_info"] == "key-a" || edk["provider_info"] == "key-b");
                assert_eq!(edk["ciphertext_length"], 256);
            } else {
                assert_eq!(edk["provider_id"], "test");
            }
        }
        let has = |s: &String| generators.contains(&s);
        let mut decrypters: Vec<Vec<&str>> = Vec::new();
        if has(&aes) {
            decrypters.push(vec![&aes]);
        }
        if has(&rsa_a) {
            decrypters.push(vec![&dec_a]);
            decrypters.push(vec![&dec_a, &aes]);
        }
        if has(&rsa_b) {
            decrypters.push(vec![&dec_b]);
            // A non-matching RSA key first: the matching one after it still decrypts.
            decrypters.push(vec![&dec_a, &dec_b]);
        }
        for keys in decrypters {
            let _ = std::fs::remove_file(env.path("mix.out"));
            assert_ok(&env.decrypt("mix.esdk", "mix.out", &keys, &["-c", "tenant=ключ"]));
            assert_eq!(env.read("mix.out"), pt, "{keys:?}");
        }
        // None of the message's keys: no matching data key.
        if !has(&rsa_a) {
            env.assert_decrypt_fails(&m, &[&dec_a], &[], &Error::NoMatchingDataKey);
        }
    }
    env.assert_no_temp_files();
}

#[test]
fn rsa_wrong_padding_or_key_fails_with_exit_1_and_no_output() {
    let env = Env::new();
    let pt = sample(3000);
    for (i, padding) in PADDINGS.iter().enumerate() {
        let enc = rsa_spec("key-a", padding, Some("key-a.spki.pem"), None);
        let m = env.message(&pt, &[&enc], &[]);
        for (j, other) in PADDINGS.iter().enumerate() {
            if i == j {
                continue;
            }
            let dec = rsa_spec("key-a", other, None, Some("key-a.pkcs8.pem"));
            // OAEP reports the unwrap failure; PKCS#1 v1.5 never reports a padding failure
            // (padding-oracle defence): it goes on with a random key, and the header
            // authentication fails.
            let err = if *other == "pkcs1" {
                Error::AuthenticationFailed
            } else {
                Error::DataKeyUnwrapFailed
            };
            env.assert_decrypt_fails(&m, &[&dec], &[], &err);
        }
        // The right padding, the wrong private key (same name).
        let wrong = rsa_spec("key-a", padding, None, Some("key-b.pkcs8.pem"));
        let err = if *padding == "pkcs1" {
            Error::AuthenticationFailed
        } else {
            Error::DataKeyUnwrapFailed
        };
        env.assert_decrypt_fails(&m, &[&wrong], &[], &err);
        // To standard output: nothing is written either.
        let dec = rsa_spec(
            "key-a",
            PADDINGS[(i + 1) % PADDINGS.len()],
            None,
            Some("key-a.pkcs8.pem"),
        );
        let out = esdk_with_stdin(
            &["decrypt", "-i", "-", "-o", "-", "--wrapping-key", &dec],
            &m,
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(out.stdout.is_empty());
        assert_eq!(stderr(&out).lines().count(), 1);
    }
    env.assert_no_temp_files();
}

#[test]
fn rsa_key_halves_are_checked_per_command() {
    let env = Env::new();
    env.write("in", b"hello");
    let public_only = rsa_spec("key-a", "oaep-sha256", Some("key-a.spki.pem"), None);
    let private_only = rsa_spec("key-a", "oaep-sha256", None, Some("key-a.pkcs8.pem"));

    // Encrypt with only a private key: a usage error that says to give both.
    let out = env.encrypt("in", "out", &[&private_only], &[]);
    assert_usage(&out);
    assert_eq!(
        stderr(&out),
        "esdk: invalid --wrapping-key: this rsa key has only private-key=@PEM, which cannot \
         encrypt: the public key is never derived from the private key; give both, \
         public-key=@PEM,private-key=@PEM (or public-key=@PEM alone to encrypt)\n"
    );
    assert!(!env.exists("out"));

    // Decrypt with only a public key: a usage error, before the input is read.
    let m = env.message(b"hello", &[&public_only], &[]);
    env.write("m.esdk", &m);
    let out = env.decrypt("m.esdk", "out", &[&public_only], &[]);
    assert_usage(&out);
    assert_eq!(
        stderr(&out),
        "esdk: invalid --wrapping-key: this rsa key has only public-key=@PEM, which cannot \
         decrypt; give private-key=@PEM (both may be given: public-key=@PEM,private-key=@PEM)\n"
    );
    assert!(!env.exists("out"));
    // Also as the second of several keys (named by position), even when another key could
    // decrypt.
    let aes = env.spec("aes", "aes.key");
    let out = env.decrypt("m.esdk", "out", &[&aes, &public_only], &[]);
    assert_usage(&out);
    assert!(
        stderr(&out)
            .starts_with("esdk: invalid --wrapping-key #2: this rsa key has only public-key"),
        "{}",
        stderr(&out)
    );
    assert!(!env.exists("out"));
    // The private key decrypts it.
    assert_ok(&env.decrypt("m.esdk", "out", &[&private_only], &[]));
    assert_eq!(env.read("out"), b"hello");
    env.assert_no_temp_files();
}

#[test]
fn rsa_bad_specs_and_key_files_exit_2() {
    let env = Env::new();
    let input = env.write("in", b"hello");
    let ct = {
        let spec = rsa_spec("key-a", "pkcs1", Some("key-a.spki.pem"), None);
        env.write("ct", &env.message(b"hello", &[&spec], &[]))
    };
    let out_path = env.p("out");
    let garbage = env.write("garbage.pem", b"not a key at all");
    let empty = env.write("empty.der", b"");
    let truncated = {
        let pem = std::fs::read_to_string(rsa_file("key-a.spki.pem")).unwrap();
        env.write("truncated.pem", &pem.as_bytes()[..pem.len() / 2])
    };
    let big = env.write("big.pem", &vec![b'A'; 100_000]);
    let dir = env.dir.path().to_str().unwrap().to_owned();
    let spec = |field: &str, value: &str| {
        format!("rsa:namespace=n,name=k,padding=oaep-sha256,{field}=@{value}")
    };
    // (command, SPEC, expected start of the message after "invalid --wrapping-key: ")
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "encrypt",
            spec("public-key", "/nonexistent/pub.pem"),
            "cannot read key file",
        ),
        ("decrypt", spec("private-key", &dir), "cannot read key file"),
        (
            "encrypt",
            spec("public-key", &garbage),
            "cannot use public-key file",
        ),
        (
            "decrypt",
            spec("private-key", &empty),
            "cannot use private-key file",
        ),
        (
            "encrypt",
            spec("public-key", &truncated),
            "cannot use public-key file",
        ),
        (
            "encrypt",
            spec("public-key", &big),
            "cannot use public-key file",
        ),
        (
            "encrypt",
            spec("public-key", &rsa_file("key-a.pkcs8.pem")),
            "cannot use public-key file",
        ),
        (
            "decrypt",
            spec("private-key", &rsa_file("key-a.spki.der")),
            "cannot use private-key file",
        ),
        (
            "decrypt",
            spec("private-key", &rsa_file("key-a.encrypted-pkcs8.pem")),
            "cannot use private-key file",
        ),
        (
            "decrypt",
            spec("private-key", &rsa_file("small-1024.pkcs8.pem")),
            "cannot use private-key file",
        ),
        (
            "encrypt",
            format!(
                "rsa:namespace=n,name=k,padding=oaep-sha224,public-key=@{}",
                rsa_file("key-a.spki.pem")
            ),
            "unknown RSA padding",
        ),
        (
            "encrypt",
            format!(
                "rsa:namespace=n,name=k,public-key=@{}",
                rsa_file("key-a.spki.pem")
            ),
            "missing field \"padding\"",
        ),
        (
            "encrypt",
            "rsa:namespace=n,name=k,padding=pkcs1".to_owned(),
            "missing field \"public-key\"",
        ),
        (
            "encrypt",
            format!(
                "rsa:namespace=n,name=k,padding=pkcs1,public-key={}",
                rsa_file("key-a.spki.pem")
            ),
            "public-key must be @PATH",
        ),
        (
            "encrypt",
            format!(
                "rsa:namespace=aws-kms,name=k,padding=pkcs1,public-key=@{}",
                rsa_file("key-a.spki.pem")
            ),
            "the key namespace \"aws-kms\" is reserved",
        ),
    ];
    for (command, spec, message) in &cases {
        let input = if *command == "encrypt" { &input } else { &ct };
        let out = esdk(&[
            command,
            "-i",
            input,
            "-o",
            &out_path,
            "--wrapping-key",
            spec,
        ]);
        assert_usage(&out);
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!("esdk: invalid --wrapping-key: {message}")),
            "{spec}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!env.exists("out"), "{spec}");
    }
    env.assert_no_temp_files();
}

#[test]
fn special_outputs_are_written_through_and_write_errors_are_reported() {
    let env = Env::new();
    let spec = env.spec("k", "k.key");
    let m = env.message(&sample(3000), &[&spec], &[]);
    let ct = env.write("m.esdk", &m);
    // A device is written through, never replaced by a regular file.
    let out = esdk(&[
        "decrypt",
        "-i",
        &ct,
        "-o",
        "/dev/null",
        "--wrapping-key",
        &spec,
    ]);
    assert_ok(&out);
    assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
    // A full stdout is a failure with one line on stderr, not a panic.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_esdk"))
        .args(["inspect", "-i", &ct])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("esdk: inspect failed: writing to standard output"));
    assert_eq!(stderr(&out).lines().count(), 1);
}
