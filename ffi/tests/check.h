/*
 * check.h: the tiny assertion helpers shared by the C tests of ffi/tests.
 *
 * Every failed check prints its file, line and expression (and for a result code, the
 * library's message and detail) and is counted; a test program ends with
 * check_summary(), which prints "N checks, M failed" and gives the exit status.
 */
#ifndef ESDK_TEST_CHECK_H
#define ESDK_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include "esdk.h"

static unsigned checks_run = 0;
static unsigned checks_failed = 0;

static inline void check_failed(const char *file, int line, const char *what) {
    checks_failed++;
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
}

static inline void check_rc_failed(const char *file, int line, const char *call, esdk_result got,
                            esdk_result want) {
    char detail[512];
    size_t n = 0;
    checks_failed++;
    if (esdk_last_error_message(detail, sizeof detail, &n) != ESDK_RESULT_OK) {
        strcpy(detail, "(no detail)");
    }
    fprintf(stderr, "%s:%d: %s returned %u (%s: %s), expected %u (%s)\n", file, line, call,
            (unsigned)got, esdk_result_message(got), detail, (unsigned)want,
            esdk_result_message(want));
}

/* CHECK(cond): a boolean check. */
#define CHECK(cond)                                      \
    do {                                                 \
        checks_run++;                                    \
        if (!(cond)) {                                   \
            check_failed(__FILE__, __LINE__, #cond);     \
        }                                                \
    } while (0)

/* CHECK_RC(call, expected): the call returns exactly the expected esdk_result. */
#define CHECK_RC(call, expected)                                                \
    do {                                                                        \
        esdk_result check_rc_ = (call);                                         \
        checks_run++;                                                           \
        if (check_rc_ != (esdk_result)(expected)) {                             \
            check_rc_failed(__FILE__, __LINE__, #call, check_rc_, (expected));  \
        }                                                                       \
    } while (0)

/* CHECK_OK(call): the call returns ESDK_RESULT_OK. */
#define CHECK_OK(call) CHECK_RC(call, ESDK_RESULT_OK)

/* Whether `len` bytes at `p` all equal `byte`. */
static inline int all_bytes(const unsigned char *p, size_t len, unsigned char byte) {
    size_t i;
    for (i = 0; i < len; i++) {
        if (p[i] != byte) {
            return 0;
        }
    }
    return 1;
}

/* Prints the summary line and returns the exit status. */
static inline int check_summary(const char *program) {
    printf("%s: %u checks, %u failed\n", program, checks_run, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}

#endif /* ESDK_TEST_CHECK_H */
