/*
 * libecn_image: JPEG and PNG decoding/encoding for the data loader through libjpeg-turbo and
 * libpng (the libraries Pillow and torchvision use), in a small library of its own so that loader
 * workers need no libtorch. C API for Deno FFI (src/data/codec_native.ts).
 *
 * Every entry point is an error barrier: libjpeg's and libpng's errors longjmp back to it, never
 * exit or abort; a failing call returns NULL and leaves a message in ecn_image_last_error()
 * (per thread, so loader workers do not mix them). Pixels are 8-bit RGB, row-major HWC.
 */
#ifndef ECN_IMAGE_H
#define ECN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ECN_IMAGE_API __attribute__((visibility("default")))

/** Bumped whenever a signature below changes; the TypeScript loader checks it. */
#define ECN_IMAGE_ABI_VERSION 1

ECN_IMAGE_API int32_t ecn_image_abi_version(void);

/** "libjpeg-turbo X.Y.Z, libpng X.Y.Z" (the versions compiled against). */
ECN_IMAGE_API const char *ecn_image_versions(void);

/** The message of this thread's last failed call ("" if none). */
ECN_IMAGE_API const char *ecn_image_last_error(void);

/**
 * Decodes a JPEG with libjpeg-turbo's defaults (islow IDCT, fancy upsampling), as Pillow does,
 * to RGB: grayscale is replicated, CMYK/YCCK converted as Pillow's convert("RGB") does.
 * info receives [width, height, components, progressive]. Returns width*height*3 bytes to free
 * with ecn_image_free, or NULL (truncated or corrupt data, unsupported layout, too large).
 */
ECN_IMAGE_API uint8_t *ecn_jpeg_decode(const uint8_t *data, size_t len, int32_t *info);

/**
 * Decodes an 8-bit (or 1/2/4-bit gray or palette) PNG, interlaced or not, to RGB as Pillow's
 * convert("RGB") does: alpha and tRNS dropped, gray replicated, palette looked up. 16-bit PNGs are
 * refused. info receives [width, height, color type, bit depth]. NULL on error.
 */
ECN_IMAGE_API uint8_t *ecn_png_decode(const uint8_t *data, size_t len, int32_t *info);

/**
 * Encodes RGB as a baseline JPEG with Pillow's defaults for `Image.save(f, "JPEG", quality=q)`:
 * IJG tables scaled by quality (1..100), YCbCr 4:2:0, standard Huffman tables, JFIF header.
 * *out_len receives the size. NULL on error.
 */
ECN_IMAGE_API uint8_t *ecn_jpeg_encode(const uint8_t *rgb, int32_t width, int32_t height,
                                       int32_t quality, int64_t *out_len);

/** Encodes RGB as an 8-bit truecolor, non-interlaced PNG (zlib level `level`, 0..9). */
ECN_IMAGE_API uint8_t *ecn_png_encode(const uint8_t *rgb, int32_t width, int32_t height,
                                      int32_t level, int64_t *out_len);

/** Frees a buffer returned by this library (NULL is allowed). */
ECN_IMAGE_API void ecn_image_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
