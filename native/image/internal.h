/* Shared by the codec sources of libecn_image (not part of the C API). */
#ifndef ECN_IMAGE_INTERNAL_H
#define ECN_IMAGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ecn_image.h"

/** Largest decoded or encoded image accepted, in bytes of RGB (1 GiB): larger is an error. */
#define ECN_IMAGE_MAX_BYTES ((uint64_t)1 << 30)

/** Sets this thread's error message (printf-style). */
void ecn_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** Clears this thread's error message (at the start of every entry point). */
void ecn_clear_error(void);

#endif
