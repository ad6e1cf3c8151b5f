/* Error state, version and buffer release of libecn_image. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>
#include <png.h>

#include "internal.h"

#ifndef LIBJPEG_TURBO_VERSION
#error "jpeglib.h is not libjpeg-turbo's: install libjpeg62-turbo-dev (Debian) or libjpeg-turbo8-dev (Ubuntu)"
#endif

#define STR2(x) #x
#define STR(x) STR2(x)

static _Thread_local char last_error[1024];

void ecn_set_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
}

void ecn_clear_error(void) { last_error[0] = '\0'; }

int32_t ecn_image_abi_version(void) { return ECN_IMAGE_ABI_VERSION; }

const char *ecn_image_versions(void) {
  return "libjpeg-turbo " STR(LIBJPEG_TURBO_VERSION) ", libpng " PNG_LIBPNG_VER_STRING;
}

const char *ecn_image_last_error(void) { return last_error; }

void ecn_image_free(void *p) { free(p); }
