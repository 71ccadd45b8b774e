/*
 * stream_file.c: encrypt a file to another file, and decrypt it back, with the streaming
 * API of libesdk: memory use stays at two 64 KiB buffers whatever the file size.
 *
 * Build (after `cargo build -p esdk-ffi` and generating esdk.pc with ffi/gen-pkg-config):
 *   cc -std=c11 stream_file.c $(pkg-config --cflags --libs esdk) -o stream_file
 *
 *   stream_file                    encrypts sample data to a temporary file, decrypts it
 *                                  back, compares, and prints the message's header
 *   stream_file encrypt IN OUT     encrypts IN to OUT under the demo key
 *   stream_file decrypt IN OUT     decrypts IN to OUT under the demo key
 *
 * The demo key is a constant in this file: a real program gets its wrapping key from a key
 * store (or uses esdk_custom_keyring_new to call an HSM).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <esdk.h>

#define BUFFER_SIZE 65536

/* For the demo only: never hard-code a real key. */
static const unsigned char DEMO_KEY[32] = {
    0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d, 0x77, 0x81,
    0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7, 0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4,
};

static int fail(const char *what, esdk_result rc) {
    char detail[256] = "";
    size_t n = 0;
    esdk_last_error_message(detail, sizeof detail, &n);
    fprintf(stderr, "stream_file: %s: %s (%s)\n", what, esdk_result_message(rc), detail);
    return 1;
}

/* Reads `in` and writes what the encryptor makes of it to `out`. */
static int encrypt_stream(esdk_encryptor *e, FILE *in, FILE *out) {
    static unsigned char plain[BUFFER_SIZE], cipher[BUFFER_SIZE];
    size_t have = 0, used = 0;
    bool at_end = false, done = false;
    while (!done) {
        size_t written = 0, read = 0;
        esdk_result rc;
        if (used == have && !at_end) { /* refill */
            have = fread(plain, 1, sizeof plain, in);
            used = 0;
            if (have == 0) {
                if (ferror(in)) {
                    perror("stream_file: read");
                    return 1;
                }
                at_end = true;
                if ((rc = esdk_encryptor_finish(e)) != ESDK_RESULT_OK) {
                    return fail("finish", rc);
                }
            }
        }
        rc = esdk_encryptor_process(e, cipher, sizeof cipher, &written, plain + used,
                                    have - used, &read);
        if (rc != ESDK_RESULT_OK) {
            return fail("encrypt", rc);
        }
        used += read;
        if (fwrite(cipher, 1, written, out) != written) {
            perror("stream_file: write");
            return 1;
        }
        if ((rc = esdk_encryptor_is_done(e, &done)) != ESDK_RESULT_OK) {
            return fail("is_done", rc);
        }
    }
    return 0;
}

/* Reads a message from `in` and writes its plaintext to `out`. On failure the caller must
 * discard `out`: a message is authentic only once the decryptor is done. */
static int decrypt_stream(esdk_decryptor *d, FILE *in, FILE *out) {
    static unsigned char cipher[BUFFER_SIZE], plain[BUFFER_SIZE];
    size_t have = 0, used = 0;
    bool at_end = false, done = false;
    while (!done) {
        size_t written = 0, read = 0;
        esdk_result rc;
        if (used == have && !at_end) {
            have = fread(cipher, 1, sizeof cipher, in);
            used = 0;
            if (have == 0) {
                if (ferror(in)) {
                    perror("stream_file: read");
                    return 1;
                }
                at_end = true;
                if ((rc = esdk_decryptor_finish(d)) != ESDK_RESULT_OK) {
                    return fail("finish", rc);
                }
            }
        }
        rc = esdk_decryptor_process(d, plain, sizeof plain, &written, cipher + used, have - used,
                                    &read);
        if (rc != ESDK_RESULT_OK) {
            return fail("decrypt", rc);
        }
        used += read;
        if (fwrite(plain, 1, written, out) != written) {
            perror("stream_file: write");
            return 1;
        }
        if ((rc = esdk_decryptor_is_done(d, &done)) != ESDK_RESULT_OK) {
            return fail("is_done", rc);
        }
    }
    return 0;
}

/* Prints the suite and encryption context of a decrypted message. */
static void print_header(const esdk_decryptor *d) {
    const esdk_header *h = NULL;
    const esdk_encryption_context *ctx = NULL;
    uint16_t suite = 0;
    size_t n = 0, i;
    bool verified = false;
    if (esdk_decryptor_header(d, &h) != ESDK_RESULT_OK ||
        esdk_header_algorithm_suite(h, &suite) != ESDK_RESULT_OK ||
        esdk_header_encryption_context(h, &ctx) != ESDK_RESULT_OK ||
        esdk_encryption_context_len(ctx, &n) != ESDK_RESULT_OK ||
        esdk_decryptor_signature_verified(d, &verified) != ESDK_RESULT_OK) {
        return;
    }
    printf("algorithm suite 0x%04x, signature %s\n", suite,
           verified ? "verified" : "absent or not verified");
    for (i = 0; i < n; i++) {
        const char *k, *v;
        size_t klen, vlen;
        if (esdk_encryption_context_at(ctx, i, &k, &klen, &v, &vlen) == ESDK_RESULT_OK) {
            printf("  context %.*s = %.*s\n", (int)klen, k, (int)vlen, v);
        }
    }
}

/* Encrypts (or decrypts) the file `in_path` to `out_path`. */
static int run(bool encrypt, const char *in_path, const char *out_path, bool show_header) {
    esdk_keyring *keyring = NULL;
    esdk_client_config *config = NULL;
    esdk_encryptor *e = NULL;
    esdk_decryptor *d = NULL;
    FILE *in = NULL, *out = NULL;
    int status = 1;
    esdk_result rc;

    if ((rc = esdk_raw_aes_keyring_new("stream-file-demo", "demo-key", DEMO_KEY,
                                       sizeof DEMO_KEY, &keyring)) != ESDK_RESULT_OK) {
        return fail("keyring", rc);
    }
    if ((rc = esdk_client_config_new(&config)) != ESDK_RESULT_OK) {
        fail("config", rc);
        goto cleanup;
    }
    /* On encrypt the pair is bound to the message; on decrypt it must be there. */
    if ((rc = esdk_client_config_add_encryption_context(config, "purpose", "stream-file demo")) !=
        ESDK_RESULT_OK) {
        fail("context", rc);
        goto cleanup;
    }
    rc = encrypt ? esdk_encryptor_new(config, keyring, &e) : esdk_decryptor_new(config, keyring, &d);
    if (rc != ESDK_RESULT_OK) {
        fail("start", rc);
        goto cleanup;
    }
    if ((in = fopen(in_path, "rb")) == NULL || (out = fopen(out_path, "wb")) == NULL) {
        perror("stream_file: open");
        goto cleanup;
    }
    status = encrypt ? encrypt_stream(e, in, out) : decrypt_stream(d, in, out);
    if (status == 0 && show_header && d != NULL) {
        print_header(d);
    }
cleanup:
    if (in != NULL) {
        fclose(in);
    }
    if (out != NULL && fclose(out) != 0) {
        status = 1;
    }
    if (out != NULL && status != 0) {
        remove(out_path); /* never leave unauthenticated plaintext behind */
    }
    esdk_encryptor_free(e);
    esdk_decryptor_free(d);
    esdk_client_config_free(config);
    esdk_keyring_free(keyring);
    return status;
}

static int same_files(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa != NULL && fb != NULL, ca, cb;
    while (same) {
        ca = fgetc(fa);
        cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF) {
            break;
        }
    }
    if (fa) {
        fclose(fa);
    }
    if (fb) {
        fclose(fb);
    }
    return same;
}

int main(int argc, char **argv) {
    char dir[] = "/tmp/esdk-stream-file-XXXXXX", plain[64], enc[64], back[64];
    FILE *f;
    long i;
    int ok;
    if (argc == 4 && (strcmp(argv[1], "encrypt") == 0 || strcmp(argv[1], "decrypt") == 0)) {
        return run(strcmp(argv[1], "encrypt") == 0, argv[2], argv[3], true);
    }
    if (argc != 1) {
        fprintf(stderr, "usage: stream_file [encrypt|decrypt IN OUT]\n");
        return 2;
    }
    /* No arguments: a self-contained round trip through temporary files. */
    printf("libesdk %s\n", esdk_version());
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(plain, sizeof plain, "%s/sample.txt", dir);
    snprintf(enc, sizeof enc, "%s/sample.txt.esdk", dir);
    snprintf(back, sizeof back, "%s/sample.decrypted.txt", dir);
    if ((f = fopen(plain, "wb")) == NULL) {
        perror(plain);
        return 1;
    }
    for (i = 0; i < 20000; i++) {
        fprintf(f, "line %ld of the sample file\n", i);
    }
    fclose(f);
    ok = run(true, plain, enc, false) == 0 && run(false, enc, back, true) == 0 &&
         same_files(plain, back);
    printf("round trip %s\n", ok ? "ok: the decrypted file equals the original" : "FAILED");
    remove(plain);
    remove(enc);
    remove(back);
    rmdir(dir);
    return ok ? 0 : 1;
}
