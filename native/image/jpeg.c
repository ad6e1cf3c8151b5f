/*
 * JPEG through libjpeg-turbo's libjpeg API, set up as Pillow's JpegDecode.c / JpegEncode.c do.
 * libjpeg's error_exit longjmps back to the entry point (never exit()); warnings are ignored as
 * Pillow ignores them, except the end of data, which Pillow reports as a truncated file.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "internal.h"

struct barrier {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
};

static void on_error(j_common_ptr cinfo) {
  char msg[JMSG_LENGTH_MAX];
  cinfo->err->format_message(cinfo, msg);
  if (cinfo->err->msg_code == JERR_OUT_OF_MEMORY) {
    ecn_set_error("out of memory in libjpeg (%s)", msg);
  } else {
    ecn_set_error("unreadable JPEG (libjpeg: %s)", msg);
  }
  longjmp(((struct barrier *)cinfo->err)->jump, 1);
}

static void on_message(j_common_ptr cinfo, int level) {
  // Only a warning can end the decode: the data ran out (libjpeg would pad with gray).
  if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
    ecn_set_error("truncated JPEG (the data ends before the image does)");
    longjmp(((struct barrier *)cinfo->err)->jump, 1);
  }
}

static void silent(j_common_ptr cinfo) { (void)cinfo; }

static void init_barrier(struct barrier *b) {
  jpeg_std_error(&b->pub);
  b->pub.error_exit = on_error;
  b->pub.emit_message = on_message;
  b->pub.output_message = silent;
}

/* Pillow's MULDIV255 (Convert.c). */
static inline int muldiv255(int a, int b) {
  int t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

uint8_t *ecn_jpeg_decode(const uint8_t *data, size_t len, int32_t *info) {
  ecn_clear_error();
  if (data == NULL || len == 0) {
    ecn_set_error("empty JPEG data");
    return NULL;
  }
  struct jpeg_decompress_struct cinfo;
  struct barrier err;
  uint8_t *volatile rgb = NULL;
  uint8_t *volatile row4 = NULL;
  memset(&cinfo, 0, sizeof cinfo);
  init_barrier(&err);
  cinfo.err = &err.pub;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    free(rgb);
    free(row4);
    return NULL;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, (unsigned char *)data, (unsigned long)len);
  if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK) {
    ecn_set_error("JPEG without an image (tables only)");
    longjmp(err.jump, 1);
  }
  const int comps = cinfo.num_components;
  const int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  if (cmyk) {
    cinfo.out_color_space = JCS_CMYK;
  } else if (comps == 1 || comps == 3) {
    // Gray is replicated (Pillow's L -> RGB); YCbCr converted; RGB-coded files copied.
    cinfo.out_color_space = JCS_RGB;
  } else {
    ecn_set_error("unsupported JPEG with %d components (color space %d); expected gray, "
                  "YCbCr, RGB or CMYK",
                  comps, (int)cinfo.jpeg_color_space);
    longjmp(err.jump, 1);
  }
  jpeg_calc_output_dimensions(&cinfo);
  const uint64_t w = cinfo.output_width, h = cinfo.output_height;
  if (w == 0 || h == 0 || w * h * 3 > ECN_IMAGE_MAX_BYTES) {
    ecn_set_error("JPEG of %llux%llu pixels is empty or too large (at most %llu bytes of RGB)",
                  (unsigned long long)w, (unsigned long long)h,
                  (unsigned long long)ECN_IMAGE_MAX_BYTES);
    longjmp(err.jump, 1);
  }
  rgb = (uint8_t *)malloc(w * h * 3);
  if (cmyk) row4 = (uint8_t *)malloc(w * 4);
  if (rgb == NULL || (cmyk && row4 == NULL)) {
    ecn_set_error("out of memory for a %llux%llu JPEG", (unsigned long long)w,
                  (unsigned long long)h);
    longjmp(err.jump, 1);
  }
  info[0] = (int32_t)w;
  info[1] = (int32_t)h;
  info[2] = comps;
  info[3] = jpeg_has_multiple_scans(&cinfo) ? 1 : 0;
  jpeg_start_decompress(&cinfo);
  while (cinfo.output_scanline < cinfo.output_height) {
    uint8_t *dst = rgb + (size_t)cinfo.output_scanline * w * 3;
    if (!cmyk) {
      JSAMPROW row = dst;
      jpeg_read_scanlines(&cinfo, &row, 1);
      continue;
    }
    JSAMPROW row = row4;
    jpeg_read_scanlines(&cinfo, &row, 1);
    // Pillow reads CMYK JPEGs as Adobe-inverted ("CMYK;I"), then convert("RGB").
    for (uint64_t x = 0; x < w; x++) {
      const int c = 255 - row4[4 * x], m = 255 - row4[4 * x + 1];
      const int y = 255 - row4[4 * x + 2], nk = row4[4 * x + 3];
      dst[3 * x] = (uint8_t)(nk - muldiv255(c, nk));
      dst[3 * x + 1] = (uint8_t)(nk - muldiv255(m, nk));
      dst[3 * x + 2] = (uint8_t)(nk - muldiv255(y, nk));
    }
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  free(row4);
  return rgb;
}

uint8_t *ecn_jpeg_encode(const uint8_t *rgb, int32_t width, int32_t height, int32_t quality,
                         int64_t *out_len) {
  ecn_clear_error();
  if (rgb == NULL || width <= 0 || height <= 0 || width > 65500 || height > 65500) {
    ecn_set_error("cannot encode a %dx%d image as JPEG (sides 1..65500)", width, height);
    return NULL;
  }
  if (quality < 1 || quality > 100) {
    ecn_set_error("JPEG quality must be in 1..100, got %d", quality);
    return NULL;
  }
  struct jpeg_compress_struct cinfo;
  struct barrier err;
  unsigned char *out = NULL;
  unsigned long size = 0;
  memset(&cinfo, 0, sizeof cinfo);
  init_barrier(&err);
  cinfo.err = &err.pub;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    free(out); /* written by libjpeg through &out, so read from memory here */
    return NULL;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &out, &size);
  cinfo.image_width = (JDIMENSION)width;
  cinfo.image_height = (JDIMENSION)height;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  // As Pillow: defaults (YCbCr 4:2:0, islow DCT, no optimization), baseline-forced quality.
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  const size_t stride = (size_t)width * 3;
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = (JSAMPROW)(rgb + cinfo.next_scanline * stride);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  *out_len = (int64_t)size;
  return out;
}
