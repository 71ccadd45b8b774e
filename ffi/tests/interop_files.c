/*
 * interop_files.c: encrypts or decrypts a file with the streaming C API and a raw AES key,
 * so that ffi/run-c-tests can exchange messages with the Python ESDK and the esdk CLI.
 *
 *   interop_files encrypt IN OUT NAMESPACE NAME KEYHEX [SUITE [FRAME_LENGTH [KEY=VALUE]...]]
 *   interop_files decrypt IN OUT NAMESPACE NAME KEYHEX [KEY=VALUE]...
 *
 * SUITE is a hex algorithm suite ID such as 0x0578 (a non-committing suite selects the
 * forbid-encrypt-allow-decrypt policy); decryption accepts every suite
 * (require-encrypt-allow-decrypt) and requires the KEY=VALUE pairs in the message's
 * encryption context. OUT is removed if the operation fails. Exit status 0 on success.
 *
 * With no arguments it runs a self-contained check on sample data in a temporary folder.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esdk.h"

#define CHUNK 65536

static void report(const char *what, esdk_result rc) {
    char detail[512];
    size_t n = 0;
    if (esdk_last_error_message(detail, sizeof detail, &n) != ESDK_RESULT_OK) {
        strcpy(detail, "");
    }
    fprintf(stderr, "interop_files: %s: %s (%u): %s\n", what, esdk_result_message(rc),
            (unsigned)rc, detail);
}

/* Pumps `in` through an encryptor (enc != NULL) or a decryptor (dec != NULL) into `out`.
 * Returns 0 on success. */
static int pump(esdk_encryptor *enc, esdk_decryptor *dec, FILE *in, FILE *out) {
    static unsigned char inbuf[CHUNK], outbuf[CHUNK];
    size_t in_len = 0, in_pos = 0;
    bool eof = false, finished = false, done = false;
    while (!done) {
        size_t written = 0, read = 0;
        esdk_result rc;
        if (in_pos == in_len && !eof) {
            in_len = fread(inbuf, 1, sizeof inbuf, in);
            in_pos = 0;
            if (in_len == 0) {
                if (ferror(in)) {
                    perror("interop_files: read");
                    return 1;
                }
                eof = true;
            }
        }
        if (eof && !finished) {
            rc = enc ? esdk_encryptor_finish(enc) : esdk_decryptor_finish(dec);
            if (rc != ESDK_RESULT_OK) {
                report("finish", rc);
                return 1;
            }
            finished = true;
        }
        rc = enc ? esdk_encryptor_process(enc, outbuf, sizeof outbuf, &written, inbuf + in_pos,
                                          in_len - in_pos, &read)
                 : esdk_decryptor_process(dec, outbuf, sizeof outbuf, &written, inbuf + in_pos,
                                          in_len - in_pos, &read);
        if (rc != ESDK_RESULT_OK) {
            report("process", rc);
            return 1;
        }
        in_pos += read;
        if (written > 0 && fwrite(outbuf, 1, written, out) != written) {
            perror("interop_files: write");
            return 1;
        }
        rc = enc ? esdk_encryptor_is_done(enc, &done) : esdk_decryptor_is_done(dec, &done);
        if (rc != ESDK_RESULT_OK) {
            report("is_done", rc);
            return 1;
        }
        if (!done && finished && read == 0 && written == 0) {
            fprintf(stderr, "interop_files: no progress\n");
            return 1;
        }
    }
    return 0;
}

static int parse_hex(const char *hex, unsigned char *out, size_t cap, size_t *len) {
    size_t n = strlen(hex), i;
    if (strncmp(hex, "hex:", 4) == 0) {
        hex += 4;
        n -= 4;
    }
    if (n % 2 != 0 || n / 2 > cap) {
        return 1;
    }
    for (i = 0; i < n / 2; i++) {
        unsigned int byte;
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1) {
            return 1;
        }
        out[i] = (unsigned char)byte;
    }
    *len = n / 2;
    return 0;
}

/* Adds KEY=VALUE arguments to the encryption context of `config`. */
static int add_pairs(esdk_client_config *config, char **pairs, int count) {
    int i;
    for (i = 0; i < count; i++) {
        const char *eq = strchr(pairs[i], '=');
        char key[256];
        esdk_result rc;
        if (eq == NULL || (size_t)(eq - pairs[i]) >= sizeof key) {
            fprintf(stderr, "interop_files: expected KEY=VALUE, got %s\n", pairs[i]);
            return 1;
        }
        memcpy(key, pairs[i], (size_t)(eq - pairs[i]));
        key[eq - pairs[i]] = '\0';
        rc = esdk_client_config_add_encryption_context(config, key, eq + 1);
        if (rc != ESDK_RESULT_OK) {
            report("encryption context", rc);
            return 1;
        }
    }
    return 0;
}

static bool committing(unsigned long suite) { return suite == 0x0478 || suite == 0x0578; }

/* Runs one operation; argv as in the usage without the program name. */
static int run(int argc, char **argv) {
    unsigned char key[32];
    size_t key_len = 0;
    esdk_keyring *keyring = NULL;
    esdk_client_config *config = NULL;
    esdk_encryptor *enc = NULL;
    esdk_decryptor *dec = NULL;
    FILE *in = NULL, *out = NULL;
    bool encrypt;
    int status = 1, first_pair;
    esdk_result rc;

    if (argc < 6 || (strcmp(argv[0], "encrypt") != 0 && strcmp(argv[0], "decrypt") != 0)) {
        fprintf(stderr, "usage: interop_files encrypt|decrypt IN OUT NAMESPACE NAME KEYHEX "
                        "[SUITE [FRAME_LENGTH]] [KEY=VALUE]...\n");
        return 2;
    }
    encrypt = strcmp(argv[0], "encrypt") == 0;
    if (parse_hex(argv[5], key, sizeof key, &key_len) != 0) {
        fprintf(stderr, "interop_files: bad key hex\n");
        return 2;
    }
    rc = esdk_raw_aes_keyring_new(argv[3], argv[4], key, key_len, &keyring);
    memset(key, 0, sizeof key);
    if (rc != ESDK_RESULT_OK) {
        report("keyring", rc);
        return 1;
    }
    if ((rc = esdk_client_config_new(&config)) != ESDK_RESULT_OK) {
        report("config", rc);
        goto done;
    }
    first_pair = 6;
    if (encrypt && argc > 6 && strchr(argv[6], '=') == NULL) {
        unsigned long suite = strtoul(argv[6], NULL, 16);
        if (!committing(suite)) {
            esdk_client_config_set_commitment_policy(
                config, ESDK_COMMITMENT_POLICY_FORBID_ENCRYPT_ALLOW_DECRYPT);
        }
        if ((rc = esdk_client_config_set_algorithm_suite(config, (uint16_t)suite)) !=
            ESDK_RESULT_OK) {
            report("suite", rc);
            goto done;
        }
        first_pair = 7;
        if (argc > 7 && strchr(argv[7], '=') == NULL) {
            rc = esdk_client_config_set_frame_length(config, (uint32_t)strtoul(argv[7], NULL, 10));
            if (rc != ESDK_RESULT_OK) {
                report("frame length", rc);
                goto done;
            }
            first_pair = 8;
        }
    }
    if (!encrypt) {
        esdk_client_config_set_commitment_policy(
            config, ESDK_COMMITMENT_POLICY_REQUIRE_ENCRYPT_ALLOW_DECRYPT);
    }
    if (add_pairs(config, argv + first_pair, argc - first_pair) != 0) {
        goto done;
    }
    rc = encrypt ? esdk_encryptor_new(config, keyring, &enc)
                 : esdk_decryptor_new(config, keyring, &dec);
    if (rc != ESDK_RESULT_OK) {
        report("start", rc);
        goto done;
    }
    in = fopen(argv[1], "rb");
    if (in == NULL) {
        perror(argv[1]);
        goto done;
    }
    out = fopen(argv[2], "wb");
    if (out == NULL) {
        perror(argv[2]);
        goto done;
    }
    status = pump(enc, dec, in, out);
done:
    if (in != NULL) {
        fclose(in);
    }
    if (out != NULL) {
        if (fclose(out) != 0) {
            status = 1;
        }
        if (status != 0) {
            remove(argv[2]);
        }
    }
    esdk_encryptor_free(enc);
    esdk_decryptor_free(dec);
    esdk_client_config_free(config);
    esdk_keyring_free(keyring);
    return status;
}

static int files_equal(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa != NULL && fb != NULL;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) {
            same = 0;
        }
        if (ca == EOF || cb == EOF) {
            break;
        }
    }
    if (fa != NULL) {
        fclose(fa);
    }
    if (fb != NULL) {
        fclose(fb);
    }
    return same;
}

/* No arguments: round trips through files in a temporary folder, and a failing decryption
 * that must leave no output. */
static int self_check(void) {
    char dir[] = "/tmp/esdk-interop-XXXXXX";
    char plain[64], enc[64], back[64];
    const char *key = "hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const char *wrong = "hex:ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    FILE *f;
    size_t i;
    int failures = 0;
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(plain, sizeof plain, "%s/plain", dir);
    snprintf(enc, sizeof enc, "%s/enc", dir);
    snprintf(back, sizeof back, "%s/back", dir);
    f = fopen(plain, "wb");
    if (f == NULL) {
        perror(plain);
        return 1;
    }
    for (i = 0; i < 150000; i++) {
        fputc((int)((i * 7 + i / 1000) & 0xFF), f);
    }
    fclose(f);
    {
        char *e1[] = {"encrypt", plain, enc, "ns", "name", (char *)key, "purpose=self-check"};
        char *d1[] = {"decrypt", enc, back, "ns", "name", (char *)key, "purpose=self-check"};
        char *e2[] = {"encrypt", plain, enc, "ns", "name", (char *)key, "0x0178", "1000"};
        char *d2[] = {"decrypt", enc, back, "ns", "name", (char *)key};
        char *bad[] = {"decrypt", enc, back, "ns", "name", (char *)wrong};
        char *missing[] = {"decrypt", enc, back, "ns", "name", (char *)key, "purpose=other"};
        failures += run(7, e1) != 0;
        failures += run(7, d1) != 0;
        failures += !files_equal(plain, back);
        fprintf(stderr, "interop_files: two decryptions below must fail (context, key)\n");
        failures += run(7, missing) == 0;
        failures += access(back, F_OK) == 0; /* a failed decryption leaves no output */
        failures += run(8, e2) != 0;
        failures += run(6, d2) != 0;
        failures += !files_equal(plain, back);
        failures += run(6, bad) == 0;
        failures += access(back, F_OK) == 0;
    }
    remove(plain);
    remove(enc);
    remove(back);
    rmdir(dir);
    printf("interop_files: self-check %s\n", failures == 0 ? "passed" : "FAILED");
    return failures == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc == 1) {
        return self_check();
    }
    return run(argc - 1, argv + 1);
}
