/*
 * JPEG decoding the way Pillow 13's decoder (src/libImaging/JpegDecode.c) drives libjpeg-turbo,
 * so that the bytes, and where it fails, are Pillow's:
 *
 * - the source manager suspends instead of padding: Pillow's `fill_input_buffer` returns FALSE
 *   and, once the file has no more bytes, `ImageFile.load` raises "image file is truncated"
 *   (`LOAD_TRUNCATED_IMAGES` is False). We hold the whole file, so a suspension is that error;
 * - warnings are ignored (Pillow's `output_message` is empty), errors abort (`error_exit`
 *   longjmps, Pillow reports "broken data stream");
 * - the header is read with `jpeg_read_header(FALSE)` until it is not tables-only, the colour
 *   space asked for is Pillow's rawmode's (L, RGB, CMYK), libjpeg's defaults are kept (islow
 *   IDCT, fancy upsampling), and rows are read into an image of the size Pillow's own marker
 *   parser found, with Pillow's checks;
 * - a suspension inside `jpeg_finish_decompress` is ignored, as Pillow ignores it once all
 *   rows are in (a missing EOI after a marker-terminated scan is accepted).
 *
 * Only this file touches libjpeg's structures; Rust sees `pj_decode` alone.
 */
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpeglib.h"

/* Results, mirrored by `PjStatus` in src/jpeg/ffi.rs. */
#define PJ_OK 0
#define PJ_TRUNCATED 1  /* Pillow: OSError "image file is truncated" */
#define PJ_BROKEN 2     /* Pillow: OSError "broken data stream when reading image file" */
#define PJ_TOO_LARGE 3  /* libjpeg's own header is over our limits (not a Pillow case) */
#define PJ_NO_MEMORY 4

#define PJ_MESSAGE_LEN 200 /* JMSG_LENGTH_MAX */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf setjmp_buffer;
    char *message; /* PJ_MESSAGE_LEN bytes owned by the caller */
} pj_error_mgr;

typedef struct {
    struct jpeg_source_mgr pub;
    int suspended;
} pj_source_mgr;

static void pj_error_exit(j_common_ptr cinfo) {
    pj_error_mgr *err = (pj_error_mgr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->setjmp_buffer, 1);
}

/* Pillow prints nothing and keeps going on warnings. */
static void pj_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void pj_stub(j_decompress_ptr cinfo) { (void)cinfo; }

/* Called only when every byte of the file has been consumed: Pillow suspends here and then
   finds the file exhausted. */
static boolean pj_fill_input_buffer(j_decompress_ptr cinfo) {
    ((pj_source_mgr *)cinfo->src)->suspended = 1;
    return FALSE;
}

/* Pillow's skip: past the end empties the buffer, and the next read suspends. */
static void pj_skip_input_data(j_decompress_ptr cinfo, long num_bytes) {
    struct jpeg_source_mgr *src = cinfo->src;
    if (num_bytes <= 0) {
        return;
    }
    if ((unsigned long)num_bytes > src->bytes_in_buffer) {
        src->next_input_byte += src->bytes_in_buffer;
        src->bytes_in_buffer = 0;
    } else {
        src->next_input_byte += num_bytes;
        src->bytes_in_buffer -= (size_t)num_bytes;
    }
}

/*
 * Decodes `data` into `out`, `xsize * ysize * components` bytes (components: 1 for L, 3 for
 * RGB, 4 for CMYK, the output colour space), `xsize`/`ysize` being the size Pillow's marker
 * parser read. Rows of a narrower libjpeg image keep the previous row's bytes past its width,
 * as Pillow's reused line buffer does. `max_side`/`max_pixels` bound libjpeg's own header
 * before it allocates. `message` (PJ_MESSAGE_LEN bytes) receives libjpeg's error text.
 */
int pj_decode(const uint8_t *data, size_t len, int components, uint32_t xsize, uint32_t ysize,
              uint32_t max_side, uint64_t max_pixels, uint8_t *out, char *message) {
    /* volatile: read after a longjmp back into this frame. */
    struct jpeg_decompress_struct cinfo;
    pj_error_mgr jerr;
    pj_source_mgr src;
    uint8_t *volatile line = NULL;
    volatile int status = PJ_OK;
    size_t row_bytes = (size_t)xsize * (size_t)components;
    uint32_t y;
    int ok;

    message[0] = '\0';
    memset(&cinfo, 0, sizeof(cinfo));
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = pj_error_exit;
    jerr.pub.output_message = pj_output_message;
    jerr.message = message;
    if (setjmp(jerr.setjmp_buffer)) {
        jpeg_destroy_decompress(&cinfo);
        free(line);
        return PJ_BROKEN;
    }
    jpeg_create_decompress(&cinfo);

    src.pub.init_source = pj_stub;
    src.pub.fill_input_buffer = pj_fill_input_buffer;
    src.pub.skip_input_data = pj_skip_input_data;
    src.pub.resync_to_restart = jpeg_resync_to_restart;
    src.pub.term_source = pj_stub;
    src.pub.next_input_byte = data;
    src.pub.bytes_in_buffer = len;
    src.suspended = 0;
    cinfo.src = &src.pub;

    do {
        ok = jpeg_read_header(&cinfo, FALSE);
    } while (ok == JPEG_HEADER_TABLES_ONLY);
    if (ok == JPEG_SUSPENDED) {
        status = PJ_TRUNCATED;
        goto done;
    }
    if (cinfo.image_width > max_side || cinfo.image_height > max_side ||
        (uint64_t)cinfo.image_width * cinfo.image_height > max_pixels) {
        status = PJ_TOO_LARGE;
        goto done;
    }
    switch (components) {
    case 1: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case 3: cinfo.out_color_space = JCS_RGB; break;
    default: cinfo.out_color_space = JCS_CMYK; break;
    }

    if (!jpeg_start_decompress(&cinfo)) {
        status = PJ_TRUNCATED;
        goto done;
    }
    /* Pillow's check that libjpeg's rows fit its line buffer. */
    if (cinfo.output_width > xsize ||
        (size_t)cinfo.output_components * cinfo.output_width > row_bytes) {
        status = PJ_BROKEN;
        snprintf(message, PJ_MESSAGE_LEN, "decoded width %u is larger than the header's %u",
                 (unsigned)cinfo.output_width, (unsigned)xsize);
        goto done;
    }
    /* Pillow's line buffer is calloc'ed once and reused for every row. */
    line = calloc(row_bytes ? row_bytes : 1, 1);
    if (line == NULL) {
        status = PJ_NO_MEMORY;
        goto done;
    }
    for (y = 0; y < ysize; y++) {
        JSAMPROW row = line;
        if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) {
            /* Suspended, or libjpeg has fewer rows than Pillow's header: Pillow asks for more
               data until the file runs out, then reports it truncated. */
            status = PJ_TRUNCATED;
            goto done;
        }
        memcpy(out + (size_t)y * row_bytes, line, row_bytes);
    }
    /* FALSE means suspended looking for EOI, which Pillow ignores once every row is in; more
       rows than Pillow's height is a libjpeg error (longjmp above). */
    (void)jpeg_finish_decompress(&cinfo);

done:
    jpeg_destroy_decompress(&cinfo);
    free(line);
    return status;
}
