"""Python AWS Encryption SDK "peer" for the esdk interoperability tests.

Run it with the interpreter printed by ``scripts/peer-venv``::

    "$(scripts/peer-venv | tail -n1)" tests/interop/peer.py MANIFEST.json

One process runs every case of the manifest (Python start-up is slow) and prints one
JSON object on stdout::

    {"results": [{"id": "case-1", "ok": true},
                 {"id": "case-2", "ok": false, "error": "<exception class>: <message>"}]}

The exit status is 0 whatever the cases did, and 2 only when the manifest is malformed
(then nothing is run, and the reason goes to stderr).

Manifest (JSON)::

    {
      "keys": {"<handle>": {"type": "aes", "namespace": "NS", "name": "KEYNAME",
                            "key_b64": "<base64 of a raw 16, 24 or 32 byte AES key>"},
               "<handle>": {"type": "rsa", "namespace": "NS", "name": "KEYNAME",
                            "padding": "pkcs1" | "oaep-sha1" | "oaep-sha256"
                                       | "oaep-sha384" | "oaep-sha512",
                            "public_pem": "-----BEGIN PUBLIC KEY-----...",
                            "private_pem": "-----BEGIN PRIVATE KEY-----..."}},
      "cases": [
        {"id": "case-1",
         "op": "encrypt" | "decrypt",
         "input": "/abs/path", "output": "/abs/path",
         "keys": ["<handle>", ...],
         "algorithm": "0x0578",
         "frame_length": 4096,
         "context": {"k": "v"},
         "commitment_policy": "require-encrypt-require-decrypt"}
      ]
    }

* ``keys`` (per case): the raw wrapping keys.  Encrypt: the first one generates the
  data key and every one wraps it.  Decrypt: any one of them may unwrap it.
  Each key is a legacy ``RawMasterKey`` (provider id = namespace, key id = name),
  byte-compatible with the spec's raw AES and raw RSA keyrings:

  * ``type`` ``aes`` (the default when ``type`` is absent): AES-GCM wrapping.
  * ``type`` ``rsa``: RSA wrapping with ``padding`` (OAEP uses the same hash for MGF1).
    At least one of ``public_pem`` and ``private_pem`` (PEM text; any form that
    ``cryptography`` loads).  Encrypt uses the public key when given, otherwise the
    private key (from which Python derives the public key; the spec's keyring does not).
    Decrypt uses the private key; with only a public key the SDK refuses to decrypt.
* ``algorithm`` (encrypt only, default ``0x0578``): hex algorithm suite id.
* ``frame_length`` (encrypt only, default 4096; 0 means non-framed).
* ``context``: encrypt, the encryption context to use; decrypt, pairs that must be present
  with these values in the decrypted message's context (default ``{}``).
* ``commitment_policy`` (default ``require-encrypt-require-decrypt``).

Inputs over 1 MiB go through the streaming API so memory stays bounded.  The output file
is written to a temporary file in the same folder and renamed into place only when the
whole operation succeeded (for decrypt: after tag, signature and context checks), so a
failed case leaves no output behind.  The SDK's own log output is silenced unless the
environment variable ``ESDK_PEER_VERBOSE`` is set.
"""

import base64
import binascii
import json
import logging
import os
import sys
import tempfile

import aws_encryption_sdk
from cryptography.hazmat.primitives import serialization
from aws_encryption_sdk.exceptions import InvalidKeyIdError
from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy, EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.base import MasterKeyProvider, MasterKeyProviderConfig
from aws_encryption_sdk.key_providers.raw import RawMasterKey

STREAM_THRESHOLD = 1 << 20  # inputs larger than this use the streaming API
CHUNK = 1 << 16

WRAPPING = {
    16: WrappingAlgorithm.AES_128_GCM_IV12_TAG16_NO_PADDING,
    24: WrappingAlgorithm.AES_192_GCM_IV12_TAG16_NO_PADDING,
    32: WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
}
RSA_PADDINGS = {
    "pkcs1": WrappingAlgorithm.RSA_PKCS1,
    "oaep-sha1": WrappingAlgorithm.RSA_OAEP_SHA1_MGF1,
    "oaep-sha256": WrappingAlgorithm.RSA_OAEP_SHA256_MGF1,
    "oaep-sha384": WrappingAlgorithm.RSA_OAEP_SHA384_MGF1,
    "oaep-sha512": WrappingAlgorithm.RSA_OAEP_SHA512_MGF1,
}
SUITES = {
    "0x%04x" % s.algorithm_id: s
    for s in Algorithm
    if s.algorithm_id in (0x0014, 0x0046, 0x0078, 0x0114, 0x0146, 0x0178, 0x0214, 0x0346, 0x0378, 0x0478, 0x0578)
}
POLICIES = {
    "require-encrypt-require-decrypt": CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
    "require-encrypt-allow-decrypt": CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT,
    "forbid-encrypt-allow-decrypt": CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT,
}


# The SDK logs tracebacks (e.g. "Error on closing") for failures that we already report
# as results; keep stderr quiet unless ESDK_PEER_VERBOSE is set.
if not os.environ.get("ESDK_PEER_VERBOSE"):
    logging.getLogger("aws_encryption_sdk").addHandler(logging.NullHandler())
    logging.getLogger("aws_encryption_sdk").propagate = False


class ManifestError(Exception):
    """The manifest is malformed (exit status 2)."""


class MultiKey(MasterKeyProvider):
    """Holds several master keys: the first is primary on encrypt; any one can decrypt.

    (Adding providers to a ``RawMasterKey`` itself does not work for encrypt: a master
    key always reports only itself.)  The container's own provider id is never written.
    """

    provider_id = "esdk-peer-multi-key"
    _config_class = MasterKeyProviderConfig
    vend_masterkey_on_decrypt = False

    def _new_master_key(self, key_id):
        raise InvalidKeyIdError("esdk-peer: unknown key {!r}".format(key_id))


def raw_master_key(spec, encrypt):
    """The legacy master key for a parsed key spec; RSA picks the key half for the op."""
    if spec["type"] == "aes":
        key = spec["key"]
        wrapping_key = WrappingKey(
            wrapping_algorithm=WRAPPING[len(key)], wrapping_key=key, wrapping_key_type=EncryptionKeyType.SYMMETRIC
        )
    else:
        if (encrypt and spec["public_pem"] is not None) or spec["private_pem"] is None:
            pem, key_type = spec["public_pem"], EncryptionKeyType.PUBLIC
        else:
            pem, key_type = spec["private_pem"], EncryptionKeyType.PRIVATE
        wrapping_key = WrappingKey(
            wrapping_algorithm=RSA_PADDINGS[spec["padding"]],
            wrapping_key=pem.encode("ascii"),
            wrapping_key_type=key_type,
        )
    return RawMasterKey(provider_id=spec["namespace"], key_id=spec["name"].encode("utf-8"), wrapping_key=wrapping_key)


def _parse_key(spec, where):
    kind = spec.get("type", "aes")
    parsed = {
        "type": kind,
        "namespace": _need(spec, "namespace", str, where),
        "name": _need(spec, "name", str, where),
    }
    if kind == "aes":
        try:
            raw = base64.b64decode(_need(spec, "key_b64", str, where), validate=True)
        except binascii.Error as error:
            raise ManifestError("{}: bad base64: {}".format(where, error))
        if len(raw) not in WRAPPING:
            raise ManifestError("{}: AES key must be 16, 24 or 32 bytes, not {}".format(where, len(raw)))
        parsed["key"] = raw
    elif kind == "rsa":
        padding = _need(spec, "padding", str, where)
        if padding not in RSA_PADDINGS:
            raise ManifestError("{}: unknown RSA padding {!r}".format(where, padding))
        parsed["padding"] = padding
        for field in ("public_pem", "private_pem"):
            value = spec.get(field)
            if value is not None and not isinstance(value, str):
                raise ManifestError("{}: {!r} must be PEM text".format(where, field))
            parsed[field] = value
        if parsed["public_pem"] is None and parsed["private_pem"] is None:
            raise ManifestError(where + ": an RSA key needs 'public_pem', 'private_pem' or both")
        # Load both halves now, so a bad key is a manifest error rather than a failed case.
        try:
            if parsed["public_pem"] is not None:
                serialization.load_pem_public_key(parsed["public_pem"].encode("ascii"))
            if parsed["private_pem"] is not None:
                serialization.load_pem_private_key(parsed["private_pem"].encode("ascii"), password=None)
        except (ValueError, TypeError, UnicodeError) as error:
            raise ManifestError("{}: cannot load the RSA key: {}".format(where, error))
    else:
        raise ManifestError("{}: unknown key type {!r}".format(where, kind))
    return parsed


def _need(obj, field, kind, where):
    if field not in obj or not isinstance(obj[field], kind):
        raise ManifestError("{}: missing or bad field {!r}".format(where, field))
    return obj[field]


def parse_manifest(manifest):
    """Checks the whole manifest up front; returns (keys by handle, list of cases)."""
    if not isinstance(manifest, dict):
        raise ManifestError("manifest is not a JSON object")
    keys = {}
    for handle, spec in _need(manifest, "keys", dict, "manifest").items():
        where = "key {!r}".format(handle)
        if not isinstance(spec, dict):
            raise ManifestError(where + ": not an object")
        keys[handle] = _parse_key(spec, where)
    cases = _need(manifest, "cases", list, "manifest")
    for index, case in enumerate(cases):
        where = "case #{}".format(index)
        if not isinstance(case, dict):
            raise ManifestError(where + ": not an object")
        where = "case {!r}".format(_need(case, "id", str, where))
        if _need(case, "op", str, where) not in ("encrypt", "decrypt"):
            raise ManifestError("{}: unknown op {!r}".format(where, case["op"]))
        _need(case, "input", str, where)
        _need(case, "output", str, where)
        handles = _need(case, "keys", list, where)
        if not handles or any(h not in keys for h in handles):
            raise ManifestError("{}: 'keys' must list at least one known key handle".format(where))
        context = case.setdefault("context", {})
        if not isinstance(context, dict) or not all(isinstance(v, str) for v in context.values()):
            raise ManifestError(where + ": 'context' must map strings to strings")
        if case.setdefault("commitment_policy", "require-encrypt-require-decrypt") not in POLICIES:
            raise ManifestError("{}: unknown commitment_policy {!r}".format(where, case["commitment_policy"]))
        if str(case.setdefault("algorithm", "0x0578")).lower() not in SUITES:
            raise ManifestError("{}: unknown algorithm {!r}".format(where, case["algorithm"]))
        frame_length = case.setdefault("frame_length", 4096)
        if not isinstance(frame_length, int) or isinstance(frame_length, bool):
            raise ManifestError(where + ": 'frame_length' must be an integer")
    return keys, cases


# Master keys by (handle, encrypt), built once: loading an RSA private key checks it
# (cryptography's RSA key validation), which costs tens of milliseconds per load.
_MASTER_KEYS = {}


def key_provider(keys, handles, encrypt):
    provider = MultiKey()
    for handle in handles:
        if (handle, encrypt) not in _MASTER_KEYS:
            _MASTER_KEYS[(handle, encrypt)] = raw_master_key(keys[handle], encrypt)
        provider.add_master_key_provider(_MASTER_KEYS[(handle, encrypt)])
    return provider


def run_case(keys, case):
    """Runs one case; raises on any failure. Returns nothing."""
    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=POLICIES[case["commitment_policy"]])
    encrypt = case["op"] == "encrypt"
    provider = key_provider(keys, case["keys"], encrypt)
    options = {"key_provider": provider}
    if encrypt:
        options.update(
            algorithm=SUITES[str(case["algorithm"]).lower()],
            frame_length=case["frame_length"],
            encryption_context=case["context"],
        )
    out_dir = os.path.dirname(os.path.abspath(case["output"]))
    fd, tmp = tempfile.mkstemp(prefix=".peer-", dir=out_dir)
    try:
        with open(case["input"], "rb") as source, os.fdopen(fd, "wb") as sink:
            if os.fstat(source.fileno()).st_size > STREAM_THRESHOLD:
                with client.stream(mode="e" if encrypt else "d", source=source, **options) as stream:
                    while True:
                        chunk = stream.read(CHUNK)
                        if not chunk:
                            break
                        sink.write(chunk)
                    header = stream.header
            else:
                data = source.read()
                if encrypt:
                    result, header = client.encrypt(source=data, **options)
                else:
                    result, header = client.decrypt(source=data, **options)
                sink.write(result)
        if not encrypt:
            found = header.encryption_context
            for key, value in case["context"].items():
                if key not in found:
                    raise ValueError("encryption context key {!r} missing".format(key))
                if found[key] != value:
                    raise ValueError("encryption context {!r} is {!r}, expected {!r}".format(key, found[key], value))
        os.replace(tmp, case["output"])
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv):
    if len(argv) != 2:
        print("usage: peer.py MANIFEST.json", file=sys.stderr)
        return 2
    try:
        with open(argv[1], "rb") as f:
            keys, cases = parse_manifest(json.loads(f.read().decode("utf-8")))
    except (OSError, ValueError, ManifestError) as error:
        print("peer.py: malformed manifest: {}".format(error), file=sys.stderr)
        return 2
    results = []
    for case in cases:
        try:
            run_case(keys, case)
            results.append({"id": case["id"], "ok": True})
        except Exception as error:  # every failure is a result, not a crash
            results.append({"id": case["id"], "ok": False, "error": "{}: {}".format(type(error).__name__, error)})
    json.dump({"results": results}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
