/*
 * PNG through libpng. libpng's errors longjmp back to the entry point (png_jmpbuf); its warnings
 * (e.g. a bad ancillary chunk, which libpng skips) are ignored, as Pillow ignores them.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "internal.h"

struct source {
  const uint8_t *data;
  size_t len, pos;
};

static void on_error(png_structp png, png_const_charp msg) {
  if (strstr(msg, "CRC") != NULL) {
    ecn_set_error("corrupt PNG (CRC mismatch; libpng: %s)", msg);
  } else {
    ecn_set_error("unreadable PNG (libpng: %s)", msg);
  }
  png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

static void read_bytes(png_structp png, png_bytep out, png_size_t n) {
  struct source *s = (struct source *)png_get_io_ptr(png);
  if (n > s->len - s->pos) {
    ecn_set_error("truncated PNG (needs %zu more bytes at offset %zu)", (size_t)n, s->pos);
    png_longjmp(png, 1);
  }
  memcpy(out, s->data + s->pos, n);
  s->pos += n;
}

static const char *color_name(int t) {
  switch (t) {
    case PNG_COLOR_TYPE_GRAY: return "gray";
    case PNG_COLOR_TYPE_RGB: return "RGB";
    case PNG_COLOR_TYPE_PALETTE: return "palette";
    case PNG_COLOR_TYPE_GRAY_ALPHA: return "gray+alpha";
    case PNG_COLOR_TYPE_RGB_ALPHA: return "RGBA";
    default: return "unknown";
  }
}

uint8_t *ecn_png_decode(const uint8_t *data, size_t len, int32_t *info) {
  ecn_clear_error();
  if (data == NULL || len < 8 || png_sig_cmp(data, 0, 8) != 0) {
    ecn_set_error("not a PNG (bad signature)");
    return NULL;
  }
  struct source src = {data, len, 0};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, on_error, on_warning);
  if (png == NULL) {
    ecn_set_error("out of memory (png_create_read_struct)");
    return NULL;
  }
  png_infop pinfo = png_create_info_struct(png);
  uint8_t *volatile rgb = NULL;
  png_bytep *volatile rows = NULL;
  if (pinfo == NULL) {
    ecn_set_error("out of memory (png_create_info_struct)");
    png_destroy_read_struct(&png, NULL, NULL);
    return NULL;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &pinfo, NULL);
    free(rgb);
    free(rows);
    return NULL;
  }
  png_set_read_fn(png, &src, read_bytes);
  png_read_info(png, pinfo);
  png_uint_32 w = 0, h = 0;
  int depth = 0, color = 0, interlace = 0;
  png_get_IHDR(png, pinfo, &w, &h, &depth, &color, &interlace, NULL, NULL);
  if (depth == 16) {
    ecn_set_error("unsupported PNG bit depth 16 for color type %d (%s); expected 8-bit (or "
                  "1/2/4-bit gray/palette); convert the file to 8-bit RGB",
                  color, color_name(color));
    png_longjmp(png, 1);
  }
  if ((uint64_t)w * h * 3 > ECN_IMAGE_MAX_BYTES) {
    ecn_set_error("PNG of %ux%u pixels is too large (at most %llu bytes of RGB)", (unsigned)w,
                  (unsigned)h, (unsigned long long)ECN_IMAGE_MAX_BYTES);
    png_longjmp(png, 1);
  }
  // Pillow's convert("RGB"): palette looked up (transparency ignored), gray replicated,
  // 1/2/4-bit gray scaled to 0..255, alpha dropped.
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, pinfo);
  if (png_get_channels(png, pinfo) != 3 || png_get_bit_depth(png, pinfo) != 8 ||
      png_get_rowbytes(png, pinfo) != (size_t)w * 3) {
    ecn_set_error("PNG (color type %d, bit depth %d) did not convert to 8-bit RGB", color, depth);
    png_longjmp(png, 1);
  }
  rgb = (uint8_t *)malloc((size_t)w * h * 3);
  rows = (png_bytep *)malloc(sizeof(png_bytep) * h);
  if (rgb == NULL || rows == NULL) {
    ecn_set_error("out of memory for a %ux%u PNG", (unsigned)w, (unsigned)h);
    png_longjmp(png, 1);
  }
  for (png_uint_32 y = 0; y < h; y++) rows[y] = rgb + (size_t)y * w * 3;
  png_read_image(png, rows);
  png_read_end(png, NULL);  // checks the chunks after the image data up to IEND
  info[0] = (int32_t)w;
  info[1] = (int32_t)h;
  info[2] = color;
  info[3] = depth;
  png_destroy_read_struct(&png, &pinfo, NULL);
  free(rows);
  return rgb;
}

struct sink {
  uint8_t *data;
  size_t len, cap;
};

static void write_bytes(png_structp png, png_bytep in, png_size_t n) {
  struct sink *s = (struct sink *)png_get_io_ptr(png);
  if (s->len + n > s->cap) {
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->len + n) cap *= 2;
    uint8_t *p = (uint8_t *)realloc(s->data, cap);
    if (p == NULL) {
      ecn_set_error("out of memory writing a PNG of %zu bytes", s->len + n);
      png_longjmp(png, 1);
    }
    s->data = p;
    s->cap = cap;
  }
  memcpy(s->data + s->len, in, n);
  s->len += n;
}

static void flush_bytes(png_structp png) { (void)png; }

uint8_t *ecn_png_encode(const uint8_t *rgb, int32_t width, int32_t height, int32_t level,
                        int64_t *out_len) {
  ecn_clear_error();
  if (rgb == NULL || width <= 0 || height <= 0 ||
      (uint64_t)width * (uint64_t)height * 3 > ECN_IMAGE_MAX_BYTES) {
    ecn_set_error("cannot encode a %dx%d image as PNG", width, height);
    return NULL;
  }
  if (level < 0 || level > 9) {
    ecn_set_error("PNG compression level must be in 0..9, got %d", level);
    return NULL;
  }
  struct sink out = {NULL, 0, 0};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, on_error, on_warning);
  if (png == NULL) {
    ecn_set_error("out of memory (png_create_write_struct)");
    return NULL;
  }
  png_infop pinfo = png_create_info_struct(png);
  png_bytep *volatile rows = NULL;
  if (pinfo == NULL) {
    ecn_set_error("out of memory (png_create_info_struct)");
    png_destroy_write_struct(&png, NULL);
    return NULL;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &pinfo);
    free(out.data); /* out lives in memory: write_bytes updates it through a pointer */
    free(rows);
    return NULL;
  }
  png_set_write_fn(png, &out, write_bytes, flush_bytes);
  png_set_IHDR(png, pinfo, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, level);
  rows = (png_bytep *)malloc(sizeof(png_bytep) * (size_t)height);
  if (rows == NULL) {
    ecn_set_error("out of memory encoding a %dx%d PNG", width, height);
    png_longjmp(png, 1);
  }
  for (int32_t y = 0; y < height; y++) rows[y] = (png_bytep)(rgb + (size_t)y * width * 3);
  png_write_info(png, pinfo);
  png_write_image(png, rows);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &pinfo);
  free(rows);
  *out_len = (int64_t)out.len;
  return out.data;
}
