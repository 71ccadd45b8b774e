/*
 * test_custom_keyring.c: a keyring implemented in C through esdk_custom_keyring_vtable,
 * and every materials accessor its callbacks use, on success and error paths.
 *
 * The "toy" keyring below wraps data keys by XOR with a pad: it shows the plumbing of a
 * key store or HSM binding and is NOT a secure keyring.
 *
 * Run with no arguments; exit status 0 when every check passed.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

enum toy_mode {
    TOY_NORMAL,
    TOY_FAIL_ENCRYPT,     /* on_encrypt returns an error */
    TOY_NO_DATA_KEY,      /* as generator, sets no data key */
    TOY_UNWRAP_FAILS,     /* recognizes its key but "cannot decrypt" it */
    TOY_DECRYPT_ERROR,    /* on_decrypt returns an unknown error code */
    TOY_DECRYPT_NO_MATCH, /* on_decrypt says none of the keys is its own */
};

struct toy {
    const char *name; /* provider info of its encrypted data keys */
    unsigned char pad[32];
    enum toy_mode mode;
    bool use_library_rng; /* generate with esdk_encryption_materials_generate_data_key */
    bool probe_errors;    /* exercise the accessors' error paths inside the callbacks */
    const char *expect_purpose; /* the "purpose" context value the callbacks must see */
    int encrypt_calls, decrypt_calls, destroyed;
};

static const unsigned char AES_KEY[32] = {42, 1, 2, 3};

static void probe_encrypt_errors(esdk_encryption_materials *m, size_t key_len) {
    unsigned char buf[64];
    size_t n = 0;
    uint16_t s;
    const esdk_encryption_context *ctx;
    esdk_encrypted_data_key edk;
    CHECK_RC(esdk_encryption_materials_algorithm_suite(NULL, &s), ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_encryption_materials_algorithm_suite(m, NULL), ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_encryption_materials_data_key_length(NULL, &n), ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_encryption_materials_data_key_length(m, NULL), ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_encryption_materials_encryption_context(NULL, &ctx),
             ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_encryption_materials_encryption_context(m, NULL), ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_encryption_materials_get_data_key(NULL, buf, sizeof buf, &n),
             ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_encryption_materials_get_data_key(m, NULL, sizeof buf, &n),
             ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_encryption_materials_get_data_key(m, buf, sizeof buf, NULL),
             ESDK_RESULT_NULL_PARAMETER);
    memset(buf, 0xAA, sizeof buf);
    CHECK_RC(esdk_encryption_materials_get_data_key(m, buf, key_len - 1, &n),
             ESDK_RESULT_BUFFER_TOO_SMALL);
    CHECK(n == key_len && all_bytes(buf, sizeof buf, 0xAA));
    /* The data key is set by now. */
    CHECK_RC(esdk_encryption_materials_set_data_key(m, buf, key_len), ESDK_RESULT_INVALID_STATE);
    CHECK_RC(esdk_encryption_materials_generate_data_key(m), ESDK_RESULT_INVALID_STATE);
    CHECK_RC(esdk_encryption_materials_set_data_key(NULL, buf, key_len),
             ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_encryption_materials_set_data_key(m, NULL, key_len),
             ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_encryption_materials_generate_data_key(NULL), ESDK_RESULT_NULL_PARAMETER);

    edk.provider_id = "toy";
    edk.provider_id_len = 3;
    edk.provider_info = buf;
    edk.provider_info_len = 1;
    edk.ciphertext = buf;
    edk.ciphertext_len = 1;
    CHECK_RC(esdk_encryption_materials_add_encrypted_data_key(NULL, &edk),
             ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_encryption_materials_add_encrypted_data_key(m, NULL),
             ESDK_RESULT_NULL_PARAMETER);
    edk.provider_id = NULL;
    CHECK_RC(esdk_encryption_materials_add_encrypted_data_key(m, &edk),
             ESDK_RESULT_NULL_PARAMETER);
    edk.provider_id = "toy";
    edk.provider_info = NULL;
    CHECK_RC(esdk_encryption_materials_add_encrypted_data_key(m, &edk),
             ESDK_RESULT_NULL_PARAMETER);
    edk.provider_info = buf;
    edk.ciphertext = NULL;
    CHECK_RC(esdk_encryption_materials_add_encrypted_data_key(m, &edk),
             ESDK_RESULT_NULL_PARAMETER);
    edk.ciphertext = buf;
    edk.provider_id = "\xff\xfe\xfd";
    CHECK_RC(esdk_encryption_materials_add_encrypted_data_key(m, &edk),
             ESDK_RESULT_INVALID_ARGUMENT);
}

static esdk_result toy_on_encrypt(void *user_data, esdk_encryption_materials *m) {
    struct toy *t = user_data;
    uint16_t suite = 0;
    size_t key_len = 0, n = 0, i, vlen = 0;
    unsigned char key[32], wrapped[32];
    const esdk_encryption_context *ctx = NULL;
    const char *v = NULL;
    esdk_encrypted_data_key edk;
    esdk_result rc;

    t->encrypt_calls++;
    if (t->mode == TOY_FAIL_ENCRYPT) {
        return ESDK_RESULT_INVALID_STATE;
    }
    CHECK_OK(esdk_encryption_materials_algorithm_suite(m, &suite));
    CHECK_OK(esdk_encryption_materials_data_key_length(m, &key_len));
    CHECK(key_len == 16 || key_len == 24 || key_len == 32);
    CHECK_OK(esdk_encryption_materials_encryption_context(m, &ctx));
    if (t->expect_purpose != NULL) {
        CHECK_OK(esdk_encryption_context_get(ctx, "purpose", &v, &vlen));
        CHECK(vlen == strlen(t->expect_purpose) && memcmp(v, t->expect_purpose, vlen) == 0);
    }

    rc = esdk_encryption_materials_get_data_key(m, key, sizeof key, &n);
    if (rc == ESDK_RESULT_NOT_FOUND) { /* we are the generator */
        if (t->mode == TOY_NO_DATA_KEY) {
            return ESDK_RESULT_OK;
        }
        if (t->probe_errors) {
            CHECK_RC(esdk_encryption_materials_set_data_key(m, t->pad, key_len - 1),
                     ESDK_RESULT_INVALID_ARGUMENT);
        }
        if (t->use_library_rng) {
            CHECK_OK(esdk_encryption_materials_generate_data_key(m));
        } else {
            for (i = 0; i < key_len; i++) {
                key[i] = (unsigned char)(t->encrypt_calls * 7 + i); /* a test key, not random */
            }
            CHECK_OK(esdk_encryption_materials_set_data_key(m, key, key_len));
        }
        rc = esdk_encryption_materials_get_data_key(m, key, sizeof key, &n);
    }
    CHECK_OK(rc);
    CHECK(n == key_len);
    if (t->probe_errors) {
        probe_encrypt_errors(m, key_len);
    }

    for (i = 0; i < n; i++) {
        wrapped[i] = key[i] ^ t->pad[i];
    }
    memset(key, 0, sizeof key);
    edk.provider_id = "toy";
    edk.provider_id_len = 3;
    edk.provider_info = (const uint8_t *)t->name;
    edk.provider_info_len = strlen(t->name);
    edk.ciphertext = wrapped;
    edk.ciphertext_len = n;
    return esdk_encryption_materials_add_encrypted_data_key(m, &edk);
}

static void probe_decrypt_errors(esdk_decryption_materials *m, size_t count, size_t key_len) {
    uint16_t s;
    size_t n;
    const esdk_encryption_context *ctx;
    esdk_encrypted_data_key edk;
    unsigned char key[33] = {0};
    CHECK_RC(esdk_decryption_materials_algorithm_suite(NULL, &s), ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_decryption_materials_algorithm_suite(m, NULL), ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_decryption_materials_data_key_length(NULL, &n), ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_decryption_materials_data_key_length(m, NULL), ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_decryption_materials_encryption_context(NULL, &ctx),
             ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_decryption_materials_encryption_context(m, NULL), ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_decryption_materials_encrypted_data_key_count(NULL, &n),
             ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_decryption_materials_encrypted_data_key_count(m, NULL),
             ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_decryption_materials_encrypted_data_key_at(NULL, 0, &edk),
             ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_decryption_materials_encrypted_data_key_at(m, 0, NULL),
             ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_decryption_materials_encrypted_data_key_at(m, count, &edk),
             ESDK_RESULT_NOT_FOUND);
    CHECK_RC(esdk_decryption_materials_set_data_key(NULL, key, key_len),
             ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_decryption_materials_set_data_key(m, NULL, key_len),
             ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_decryption_materials_set_data_key(m, key, key_len + 1),
             ESDK_RESULT_INVALID_ARGUMENT);
}

static esdk_result toy_on_decrypt(void *user_data, esdk_decryption_materials *m) {
    struct toy *t = user_data;
    size_t count = 0, key_len = 0, i, j, vlen = 0;
    uint16_t suite = 0;
    const esdk_encryption_context *ctx = NULL;
    const char *v = NULL;

    t->decrypt_calls++;
    if (t->mode == TOY_DECRYPT_ERROR) {
        return 12345;
    }
    if (t->mode == TOY_DECRYPT_NO_MATCH) {
        return ESDK_RESULT_NO_MATCHING_DATA_KEY;
    }
    CHECK_OK(esdk_decryption_materials_algorithm_suite(m, &suite));
    CHECK(suite != 0);
    CHECK_OK(esdk_decryption_materials_data_key_length(m, &key_len));
    CHECK_OK(esdk_decryption_materials_encryption_context(m, &ctx));
    if (t->expect_purpose != NULL) {
        CHECK_OK(esdk_encryption_context_get(ctx, "purpose", &v, &vlen));
        CHECK(vlen == strlen(t->expect_purpose) && memcmp(v, t->expect_purpose, vlen) == 0);
    }
    CHECK_OK(esdk_decryption_materials_encrypted_data_key_count(m, &count));
    CHECK(count >= 1);
    if (t->probe_errors) {
        probe_decrypt_errors(m, count, key_len);
    }
    for (i = 0; i < count; i++) {
        esdk_encrypted_data_key edk;
        unsigned char key[32];
        CHECK_OK(esdk_decryption_materials_encrypted_data_key_at(m, i, &edk));
        if (edk.provider_id_len != 3 || memcmp(edk.provider_id, "toy", 3) != 0 ||
            edk.provider_info_len != strlen(t->name) ||
            memcmp(edk.provider_info, t->name, edk.provider_info_len) != 0) {
            continue; /* not ours */
        }
        if (t->mode == TOY_UNWRAP_FAILS || edk.ciphertext_len != key_len) {
            return ESDK_RESULT_DATA_KEY_UNWRAP_FAILED;
        }
        for (j = 0; j < key_len; j++) {
            key[j] = edk.ciphertext[j] ^ t->pad[j];
        }
        CHECK_OK(esdk_decryption_materials_set_data_key(m, key, key_len));
        if (t->probe_errors) {
            CHECK_RC(esdk_decryption_materials_set_data_key(m, key, key_len),
                     ESDK_RESULT_INVALID_STATE);
        }
        memset(key, 0, sizeof key);
        return ESDK_RESULT_OK;
    }
    return ESDK_RESULT_OK; /* none of ours: not an error */
}

static void toy_destroy(void *user_data) {
    struct toy *t = user_data;
    t->destroyed++;
}

static void toy_init(struct toy *t, const char *name) {
    size_t i;
    memset(t, 0, sizeof *t);
    t->name = name;
    for (i = 0; i < sizeof t->pad; i++) {
        t->pad[i] = (unsigned char)(0x5A ^ (i * 13));
    }
}

static esdk_custom_keyring_vtable toy_vtable(size_t bound) {
    esdk_custom_keyring_vtable vt;
    memset(&vt, 0, sizeof vt);
    vt.size = sizeof vt;
    vt.on_encrypt = toy_on_encrypt;
    vt.on_decrypt = toy_on_decrypt;
    vt.destroy = toy_destroy;
    vt.encrypted_data_keys_bound = bound;
    return vt;
}

static esdk_keyring *toy_keyring(struct toy *t, size_t bound) {
    esdk_custom_keyring_vtable vt = toy_vtable(bound);
    esdk_keyring *k = NULL;
    CHECK_OK(esdk_custom_keyring_new(&vt, t, &k));
    return k;
}

/* The header bytes one toy encrypted data key takes with a 32-byte data key. */
static size_t toy_edk_bytes(const struct toy *t) { return 6 + 3 + strlen(t->name) + 32; }

static void test_vtable_validation(void) {
    struct toy t;
    esdk_custom_keyring_vtable vt;
    esdk_keyring *k = NULL;
    struct {
        esdk_custom_keyring_vtable v;
        size_t from_a_later_version;
    } bigger;
    toy_init(&t, "v");

    vt = toy_vtable(0);
    CHECK_RC(esdk_custom_keyring_new(NULL, &t, &k), ESDK_RESULT_NULL_PARAMETER);
    CHECK_RC(esdk_custom_keyring_new(&vt, &t, NULL), ESDK_RESULT_NULL_PARAMETER);
    vt.size = sizeof(size_t);
    CHECK_RC(esdk_custom_keyring_new(&vt, &t, &k), ESDK_RESULT_INVALID_ARGUMENT);
    vt.size = 0;
    CHECK_RC(esdk_custom_keyring_new(&vt, &t, &k), ESDK_RESULT_INVALID_ARGUMENT);
    vt = toy_vtable(0);
    vt.on_encrypt = NULL;
    CHECK_RC(esdk_custom_keyring_new(&vt, &t, &k), ESDK_RESULT_NULL_PARAMETER);
    vt = toy_vtable(0);
    vt.on_decrypt = NULL;
    CHECK_RC(esdk_custom_keyring_new(&vt, &t, &k), ESDK_RESULT_NULL_PARAMETER);
    CHECK(k == NULL && t.destroyed == 0); /* a failed new never calls destroy */

    /* A vtable from an older header: up to `destroy` only; the bound then counts as 0. */
    vt = toy_vtable(999);
    vt.size = offsetof(esdk_custom_keyring_vtable, encrypted_data_keys_bound);
    CHECK_OK(esdk_custom_keyring_new(&vt, &t, &k));
    {
        esdk_client_config *c = NULL;
        size_t bound = 0;
        CHECK_OK(esdk_client_config_new(&c));
        CHECK_RC(esdk_encrypt_output_bound(c, k, 10, &bound), ESDK_RESULT_INVALID_ARGUMENT);
        esdk_client_config_free(c);
    }
    esdk_keyring_free(k);
    CHECK(t.destroyed == 1);

    /* A vtable from a newer header: the fields past ours are ignored. */
    memset(&bigger, 0, sizeof bigger);
    bigger.v = toy_vtable(0);
    bigger.v.size = sizeof bigger;
    bigger.from_a_later_version = 77;
    k = NULL;
    CHECK_OK(esdk_custom_keyring_new(&bigger.v, &t, &k));
    esdk_keyring_free(k);
    CHECK(t.destroyed == 2);

    /* destroy is optional, user_data may be NULL when the callbacks do not need it. */
    vt = toy_vtable(0);
    vt.destroy = NULL;
    k = NULL;
    CHECK_OK(esdk_custom_keyring_new(&vt, NULL, &k));
    esdk_keyring_free(k);
}

static void round_trip(uint16_t suite, bool library_rng) {
    struct toy t;
    esdk_keyring *k;
    esdk_client_config *c = NULL;
    unsigned char pt[300], ct[4096], back[300];
    size_t len = 0, n = 0, bound = 0, i;
    bool committing = suite == ESDK_ALGORITHM_SUITE_AES_256_GCM_HKDF_SHA512_COMMIT_KEY ||
                      suite == ESDK_ALGORITHM_SUITE_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
    toy_init(&t, "round-trip");
    t.use_library_rng = library_rng;
    t.probe_errors = true;
    t.expect_purpose = "custom";
    for (i = 0; i < sizeof pt; i++) {
        pt[i] = (unsigned char)i;
    }
    k = toy_keyring(&t, toy_edk_bytes(&t));
    CHECK_OK(esdk_client_config_new(&c));
    CHECK_OK(esdk_client_config_set_commitment_policy(
        c, committing ? ESDK_COMMITMENT_POLICY_REQUIRE_ENCRYPT_REQUIRE_DECRYPT
                      : ESDK_COMMITMENT_POLICY_FORBID_ENCRYPT_ALLOW_DECRYPT));
    CHECK_OK(esdk_client_config_set_algorithm_suite(c, suite));
    CHECK_OK(esdk_client_config_add_encryption_context(c, "purpose", "custom"));
    CHECK_OK(esdk_encrypt_output_bound(c, k, sizeof pt, &bound));
    CHECK_OK(esdk_encrypt(c, k, pt, sizeof pt, ct, sizeof ct, &len));
    CHECK(len <= bound);
    CHECK(t.encrypt_calls == 1);
    CHECK_OK(esdk_decrypt(c, k, ct, len, back, sizeof back, &n));
    CHECK(n == sizeof pt && memcmp(back, pt, n) == 0);
    CHECK(t.decrypt_calls == 1);
    esdk_client_config_free(c);
    esdk_keyring_free(k);
    CHECK(t.destroyed == 1);
}

static void test_bound(void) {
    struct toy t;
    esdk_keyring *k;
    esdk_client_config *c = NULL;
    unsigned char ct[4096];
    size_t len = 0, bound = 0;
    memset(ct, 'p', sizeof ct); /* the first 100 bytes are the plaintext */
    toy_init(&t, "bound");
    CHECK_OK(esdk_client_config_new(&c));

    /* With the exact bound, esdk_encrypt_output_bound is exact. */
    k = toy_keyring(&t, toy_edk_bytes(&t));
    CHECK_OK(esdk_encrypt_output_bound(c, k, 100, &bound));
    CHECK_OK(esdk_encrypt(c, k, ct, 100, ct + 1024, 3072, &len));
    CHECK(len == bound);
    esdk_keyring_free(k);

    /* No bound: the size call cannot answer, encryption still works. */
    k = toy_keyring(&t, 0);
    CHECK_RC(esdk_encrypt_output_bound(c, k, 100, &bound), ESDK_RESULT_INVALID_ARGUMENT);
    CHECK_OK(esdk_encrypt(c, k, ct, 100, ct + 1024, 3072, &len));
    esdk_keyring_free(k);

    /* A bound that the keyring exceeds fails the encryption. */
    k = toy_keyring(&t, 10);
    CHECK_RC(esdk_encrypt(c, k, ct, 100, ct + 1024, 3072, &len), ESDK_RESULT_KEYRING_FAILURE);
    esdk_keyring_free(k);

    esdk_client_config_free(c);
    CHECK(t.destroyed == 3);
}

static void test_failures(void) {
    struct toy t;
    esdk_keyring *k;
    esdk_client_config *c = NULL;
    unsigned char ct[4096], out[64];
    size_t len = 0, n = 0;
    toy_init(&t, "failures");
    k = toy_keyring(&t, 0);
    CHECK_OK(esdk_client_config_new(&c));

    t.mode = TOY_FAIL_ENCRYPT;
    CHECK_RC(esdk_encrypt(c, k, (const uint8_t *)"x", 1, ct, sizeof ct, &len),
             ESDK_RESULT_KEYRING_FAILURE);
    t.mode = TOY_NO_DATA_KEY;
    CHECK_RC(esdk_encrypt(c, k, (const uint8_t *)"x", 1, ct, sizeof ct, &len),
             ESDK_RESULT_KEYRING_FAILURE);

    t.mode = TOY_NORMAL;
    CHECK_OK(esdk_encrypt(c, k, (const uint8_t *)"x", 1, ct, sizeof ct, &len));
    t.mode = TOY_UNWRAP_FAILS;
    CHECK_RC(esdk_decrypt(c, k, ct, len, out, sizeof out, &n), ESDK_RESULT_DATA_KEY_UNWRAP_FAILED);
    t.mode = TOY_DECRYPT_ERROR;
    CHECK_RC(esdk_decrypt(c, k, ct, len, out, sizeof out, &n), ESDK_RESULT_KEYRING_FAILURE);
    t.mode = TOY_DECRYPT_NO_MATCH;
    CHECK_RC(esdk_decrypt(c, k, ct, len, out, sizeof out, &n), ESDK_RESULT_NO_MATCHING_DATA_KEY);
    t.mode = TOY_NORMAL;
    CHECK_OK(esdk_decrypt(c, k, ct, len, out, sizeof out, &n));
    CHECK(n == 1 && out[0] == 'x');

    /* Another toy (a different name) does not recognize the key: not an error in itself,
     * the decryption fails for lack of a key. */
    {
        struct toy other;
        esdk_keyring *ok;
        toy_init(&other, "someone-else");
        ok = toy_keyring(&other, 0);
        CHECK_RC(esdk_decrypt(c, ok, ct, len, out, sizeof out, &n),
                 ESDK_RESULT_NO_MATCHING_DATA_KEY);
        esdk_keyring_free(ok);
    }
    esdk_client_config_free(c);
    esdk_keyring_free(k);
}

static void test_multi_and_lifetime(void) {
    struct toy t;
    esdk_keyring *toy, *aes = NULL, *gen_toy = NULL, *gen_aes = NULL;
    const esdk_keyring *kids[1];
    esdk_client_config *c = NULL;
    esdk_decryptor *d = NULL;
    unsigned char ct[4096], out[64];
    size_t len = 0, n = 0, written = 0, read = 0;
    bool done = false;
    toy_init(&t, "multi");
    t.probe_errors = true;
    toy = toy_keyring(&t, toy_edk_bytes(&t));
    CHECK_OK(esdk_raw_aes_keyring_new("aes-ns", "aes-key", AES_KEY, 32, &aes));
    CHECK_OK(esdk_client_config_new(&c));

    /* The toy generates, the AES keyring also wraps: either one decrypts. */
    kids[0] = aes;
    CHECK_OK(esdk_multi_keyring_new(toy, kids, 1, &gen_toy));
    CHECK_OK(esdk_encrypt(c, gen_toy, (const uint8_t *)"multi", 5, ct, sizeof ct, &len));
    CHECK_OK(esdk_decrypt(c, aes, ct, len, out, sizeof out, &n));
    CHECK(n == 5 && memcmp(out, "multi", 5) == 0);
    CHECK_OK(esdk_decrypt(c, toy, ct, len, out, sizeof out, &n));
    CHECK(n == 5 && memcmp(out, "multi", 5) == 0);

    /* The AES keyring generates, the toy wraps a data key it did not make. */
    kids[0] = toy;
    CHECK_OK(esdk_multi_keyring_new(aes, kids, 1, &gen_aes));
    CHECK_OK(esdk_encrypt(c, gen_aes, (const uint8_t *)"child", 5, ct, sizeof ct, &len));
    CHECK_OK(esdk_decrypt(c, toy, ct, len, out, sizeof out, &n));
    CHECK(n == 5 && memcmp(out, "child", 5) == 0);

    /* Lifetime: the multi-keyrings and a decryptor retain the toy; destroy runs once, after
     * the last of them is freed. */
    CHECK_OK(esdk_decryptor_new(c, gen_aes, &d));
    esdk_keyring_free(toy);
    esdk_keyring_free(gen_toy);
    esdk_keyring_free(gen_aes);
    CHECK(t.destroyed == 0);
    t.decrypt_calls = 0;
    CHECK_OK(esdk_decryptor_finish(d));
    CHECK_OK(esdk_decryptor_process(d, out, sizeof out, &written, ct, len, &read));
    CHECK_OK(esdk_decryptor_is_done(d, &done));
    CHECK(done && written == 5 && read == len);
    CHECK(t.decrypt_calls == 0); /* the AES generator decrypted first */
    CHECK(t.destroyed == 0);
    esdk_decryptor_free(d);
    CHECK(t.destroyed == 1);

    esdk_keyring_free(aes);
    esdk_client_config_free(c);
}

static void test_streaming_with_custom_keyring(void) {
    struct toy t;
    esdk_keyring *k;
    esdk_client_config *c = NULL;
    esdk_encryptor *e = NULL;
    unsigned char ct[4096], out[64];
    size_t len = 0, written = 0, read = 0, n = 0;
    bool done = false;
    int guard = 0;
    toy_init(&t, "stream");
    k = toy_keyring(&t, 0);
    CHECK_OK(esdk_client_config_new(&c));
    CHECK_OK(esdk_encryptor_new(c, k, &e));
    CHECK(t.encrypt_calls == 1); /* the materials are made when the encryptor starts */
    esdk_keyring_free(k);      /* the encryptor no longer needs the keyring */
    CHECK(t.destroyed == 1);
    CHECK_OK(esdk_encryptor_process(e, ct, sizeof ct, &written, (const uint8_t *)"abc", 3, &read));
    CHECK(read == 3);
    len = written;
    CHECK_OK(esdk_encryptor_finish(e));
    while (!done && guard++ < 100) {
        CHECK_OK(esdk_encryptor_process(e, ct + len, sizeof ct - len, &written, NULL, 0, &read));
        len += written;
        CHECK_OK(esdk_encryptor_is_done(e, &done));
    }
    esdk_encryptor_free(e);
    k = toy_keyring(&t, 0);
    CHECK_OK(esdk_decrypt(c, k, ct, len, out, sizeof out, &n));
    CHECK(n == 3 && memcmp(out, "abc", 3) == 0);
    esdk_keyring_free(k);
    esdk_client_config_free(c);
}

int main(void) {
    test_vtable_validation();
    round_trip(ESDK_ALGORITHM_SUITE_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384, true);
    round_trip(ESDK_ALGORITHM_SUITE_AES_256_GCM_HKDF_SHA512_COMMIT_KEY, false);
    round_trip(ESDK_ALGORITHM_SUITE_AES_128_GCM_IV12_TAG16_HKDF_SHA256, false);
    round_trip(ESDK_ALGORITHM_SUITE_AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384, true);
    test_bound();
    test_failures();
    test_multi_and_lifetime();
    test_streaming_with_custom_keyring();
    return check_summary("test_custom_keyring");
}
