//! Exhaustive sweeps over small messages of every suite, framed (written by the library's
//! encryptor) and non-framed (built by hand, see `forge`), signed and unsigned, v1 and v2:
//! every single-bit flip and every truncation must fail to decrypt, both one-shot and
//! through the `Read` front, and the `Read` front must never hand out a byte that was not
//! authenticated. A smaller sweep runs the CLI and checks that it leaves no output file.

mod forge;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use esdk::format::header::ContentType;
use esdk::*;

/// Plaintext of every swept message: two regular frames of 4 bytes and a final frame of 2.
const PLAINTEXT: &[u8] = b"0123456789";
const FRAME: u32 = 4;
/// The plaintext of the regular frames: the most the `Read` front may hand out from a
/// framed message that then fails (the final frame is held until the message is whole).
const REGULAR: usize = 8;

/// One message to sweep.
struct Sample {
    name: String,
    suite: &'static AlgorithmSuite,
    message: Vec<u8>,
    /// The most plaintext the `Read` front may hand out before failing.
    releasable: usize,
}

fn options(suite: &AlgorithmSuite) -> DecryptOptions {
    DecryptOptions {
        commitment_policy: forge::policy_for(suite),
        ..DecryptOptions::default()
    }
}

/// A framed message written by the library's encryptor.
fn framed(suite: &'static AlgorithmSuite) -> Vec<u8> {
    encrypt(
        forge::keyring(),
        PLAINTEXT,
        EncryptOptions {
            encryption_context: [("k", "v")].into_iter().collect(),
            algorithm_suite: Some(suite),
            frame_length: FRAME,
            commitment_policy: forge::policy_for(suite),
            ..EncryptOptions::default()
        },
    )
    .unwrap()
}

/// A non-framed message built by hand.
fn non_framed(suite: &'static AlgorithmSuite) -> Vec<u8> {
    let ctx: EncryptionContext = [("k", "v")].into_iter().collect();
    forge::Forge::new(suite, &ctx, ContentType::NonFramed, 0).message(PLAINTEXT)
}

/// Every swept message: 11 suites, framed and non-framed.
fn samples() -> Vec<Sample> {
    let mut out = Vec::new();
    for suite in AlgorithmSuite::ALL {
        out.push(Sample {
            name: format!("{:#06x} framed", suite.id()),
            suite,
            message: framed(suite),
            releasable: REGULAR,
        });
        out.push(Sample {
            name: format!("{:#06x} non-framed", suite.id()),
            suite,
            message: non_framed(suite),
            releasable: 0,
        });
    }
    out
}

/// The number of bit flips run over all of them (see [`flips`]).
const FLIPS: usize = 46_400;

/// The length of each swept message, in the order of [`samples`]: deterministic (fixed
/// signature lengths, fixed data-key wrapping), so the number of cases is exact.
const LENGTHS: [usize; 22] = [
    248, 180, 256, 188, 264, 196, 248, 180, 256, 188, 264, 196, 390, 322, 454, 386, 462, 394, 294,
    226, 492, 425,
];

/// Reads through the `Read` front in 5-byte pieces: the plaintext handed out, and the
/// error that ended the read (None if it read to the end).
fn read_front(msg: &[u8], options: DecryptOptions) -> (Vec<u8>, Option<Error>) {
    let dec = Decryptor::new(Arc::new(DefaultCmm::new(forge::keyring())), options);
    let mut r = DecryptingReader::new(forge::Trickle(msg, 13), dec);
    let mut got = Vec::new();
    let mut buf = [0u8; 5];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return (got, None),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (got, Some(Error::from_io(&e).cloned().expect("esdk error"))),
        }
    }
}

/// Runs one tampered message: it must fail one-shot and through the `Read` front, with an
/// error that is not an internal one, and the `Read` front must have handed out only a
/// prefix of the releasable plaintext. Returns the one-shot error's kind.
fn must_fail(s: &Sample, msg: &[u8], what: &str) -> &'static str {
    let e = match decrypt(forge::keyring(), msg, options(s.suite)) {
        Ok(_) => panic!("{}: {what} decrypted", s.name),
        Err(e) => e,
    };
    assert!(
        !matches!(e, Error::Unreachable(_)),
        "{}: {what}: {e:?}",
        s.name
    );
    let (got, err) = read_front(msg, options(s.suite));
    let Some(err) = err else {
        panic!("{}: {what} read to the end through the Read front", s.name)
    };
    assert!(
        !matches!(err, Error::Unreachable(_)),
        "{}: {what}: {err:?}",
        s.name
    );
    assert!(
        got.len() <= s.releasable && PLAINTEXT.starts_with(&got),
        "{}: {what}: the Read front handed out {:?}",
        s.name,
        String::from_utf8_lossy(&got)
    );
    // The same with two threads, where the regular frames are opened as one batch: nothing
    // of a batch may come out unless all of it verified.
    let (got, err) = read_front(
        msg,
        DecryptOptions {
            threads: 2,
            ..options(s.suite)
        },
    );
    assert!(err.is_some(), "{}: {what}: read with two threads", s.name);
    assert!(
        got.len() <= s.releasable && PLAINTEXT.starts_with(&got),
        "{}: {what}: the Read front with two threads handed out {:?}",
        s.name,
        String::from_utf8_lossy(&got)
    );
    kind(&e)
}

fn kind(e: &Error) -> &'static str {
    match e {
        Error::Format(FormatError::Truncated) => "Truncated",
        Error::Format(_) => "other Format",
        Error::AuthenticationFailed => "AuthenticationFailed",
        Error::Policy(_) => "Policy",
        Error::Limit(_) => "Limit",
        Error::NoMatchingDataKey => "NoMatchingDataKey",
        Error::DataKeyUnwrapFailed => "DataKeyUnwrapFailed",
        _ => "other",
    }
}

/// The bits flipped in a message: every bit of every byte, except in the ECDSA scalars
/// `r` and `s` of a signature, where one bit of the first and of the last byte of each is
/// flipped. Each flip there costs a full signature verification (milliseconds for P-384 in
/// a debug build) and exercises only the curve arithmetic; every bit of the footer's length
/// field and of the DER structure around the scalars is flipped.
fn flips(msg: &[u8], signed: bool) -> Vec<(usize, u8)> {
    let all = |range: std::ops::Range<usize>| range.flat_map(|p| (0..8).map(move |b| (p, b)));
    if !signed {
        return all(0..msg.len()).collect();
    }
    // The footer: u16 length, then DER `30 L 02 Lr r.. 02 Ls s..`.
    let len = msg.len();
    let sig_len = (60..=110)
        .find(|&l| msg[len - l - 2..len - l] == (l as u16).to_be_bytes() && msg[len - l] == 0x30)
        .expect("a DER signature at the end");
    let sig = len - sig_len;
    let lr = usize::from(msg[sig + 3]);
    let (r, s) = (sig + 4, sig + 6 + lr);
    let mut out: Vec<(usize, u8)> = all(0..r).collect();
    out.extend([(r, 0), (r + lr - 1, 0)]);
    out.extend(all(r + lr..s));
    out.extend([(s, 0), (len - 1, 0)]);
    out
}

#[test]
fn every_bit_flip_and_truncation_of_every_suite_fails() {
    let samples = samples();
    let lengths: Vec<usize> = samples.iter().map(|s| s.message.len()).collect();
    assert_eq!(lengths, LENGTHS, "message lengths changed");
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut flipped, mut cuts) = (0, 0);
    for s in &samples {
        // The untouched message decrypts, both ways.
        let d = decrypt(forge::keyring(), &s.message, options(s.suite)).unwrap();
        assert_eq!(d.plaintext, PLAINTEXT, "{}", s.name);
        assert_eq!(
            read_front(&s.message, options(s.suite)),
            (PLAINTEXT.to_vec(), None)
        );
        let two_threads = DecryptOptions {
            threads: 2,
            ..options(s.suite)
        };
        assert_eq!(
            read_front(&s.message, two_threads),
            (PLAINTEXT.to_vec(), None)
        );
        let mut t = s.message.clone();
        for (pos, bit) in flips(&s.message, s.suite.signature().is_some()) {
            t[pos] ^= 1 << bit;
            let k = must_fail(s, &t, &format!("bit {bit} of byte {pos} flipped"));
            *kinds.entry(k).or_default() += 1;
            t[pos] ^= 1 << bit;
            flipped += 1;
        }
        for cut in 0..s.message.len() {
            let k = must_fail(s, &s.message[..cut], &format!("cut at {cut}"));
            assert_eq!(k, "Truncated", "{}: cut at {cut}", s.name);
            cuts += 1;
        }
    }
    assert_eq!(cuts, LENGTHS.iter().sum::<usize>());
    assert_eq!((flipped, cuts), (FLIPS, 6_509));
    println!("{flipped} bit flips and {cuts} truncations failed: {kinds:?}");
}

/// The CLI on one small message (0x0478, framed, unsigned): every truncation and a bit flip
/// in every 7th byte fail with exit status 1 and leave nothing in the output directory.
#[test]
fn cli_leaves_no_output_file() {
    let bin = forge::cli_binary();
    let suite = &AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
    let msg = framed(suite);
    assert_eq!(msg.len(), 294);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let output = dir.path().join("out");
    let run = |bytes: &[u8]| {
        std::fs::write(&input, bytes).unwrap();
        Command::new(bin)
            .arg("decrypt")
            .arg("-i")
            .arg(&input)
            .arg("-o")
            .arg(&output)
            .args(["--wrapping-key", &forge::cli_spec()])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&msg);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&output).unwrap(), PLAINTEXT);
    std::fs::remove_file(&output).unwrap();

    let mut cases: Vec<(String, Vec<u8>)> = (0..msg.len())
        .map(|cut| (format!("cut at {cut}"), msg[..cut].to_vec()))
        .collect();
    for pos in (0..msg.len()).step_by(7) {
        let mut t = msg.clone();
        t[pos] ^= 1 << (pos % 8);
        cases.push((format!("bit {} of byte {pos} flipped", pos % 8), t));
    }
    assert_eq!(cases.len(), 294 + 42);
    for (what, bytes) in &cases {
        let out = run(bytes);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert!(
            stderr.starts_with("esdk: decrypt failed: "),
            "{what}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
        assert_eq!(listing(dir.path()), ["in"], "{what}: files left behind");
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Writes the seed corpora of the fuzz targets (see `scripts/fuzz`): the swept messages plus
/// a few variants, each prefixed with the control bytes the targets expect. Run with
/// `ESDK_FUZZ_SEEDS=DIR cargo test --test sweeps -- --ignored write_fuzz_seeds`.
#[test]
#[ignore = "writes files; run by hand to regenerate the fuzz seeds"]
fn write_fuzz_seeds() {
    let dir =
        std::path::PathBuf::from(std::env::var_os("ESDK_FUZZ_SEEDS").expect("ESDK_FUZZ_SEEDS=DIR"));
    let mut messages: Vec<(String, Vec<u8>)> = samples()
        .into_iter()
        .map(|s| (s.name.replace(' ', "-"), s.message))
        .collect();
    for suite in AlgorithmSuite::ALL {
        // Empty plaintext, an exact multiple of the frame length, one-byte frames, and a
        // signed forged framed message with no context.
        for (tag, pt, frame) in [
            ("empty", &b""[..], 4096),
            ("exact", &b"01234567"[..], 4),
            ("tiny", &b"abc"[..], 1),
        ] {
            let m = encrypt(
                forge::keyring(),
                pt,
                EncryptOptions {
                    algorithm_suite: Some(suite),
                    frame_length: frame,
                    commitment_policy: forge::policy_for(suite),
                    ..EncryptOptions::default()
                },
            )
            .unwrap();
            messages.push((format!("{:#06x}-{tag}", suite.id()), m));
        }
        messages.push((
            format!("{:#06x}-forged-framed", suite.id()),
            forge::Forge::framed(suite, 3).message(b"hello"),
        ));
    }
    for (target, prefixes) in [
        ("header_parse", &[&[0u8][..], &[3u8][..]][..]),
        ("decrypt_stream", &[&[0u8, 2][..], &[0x61, 0x0B][..]][..]),
        ("decrypt_reader", &[&[0u8, 5][..], &[0x83, 0x09][..]][..]),
    ] {
        let d = dir.join(target);
        std::fs::create_dir_all(&d).unwrap();
        for (name, m) in &messages {
            for (i, p) in prefixes.iter().enumerate() {
                let mut bytes = p.to_vec();
                bytes.extend_from_slice(m);
                std::fs::write(d.join(format!("{name}-{i}")), bytes).unwrap();
            }
        }
    }
}
