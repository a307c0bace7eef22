/* yaml_guard: the only way a YAML file reaches libfyaml, and what the
 * library is never shown.
 *
 * The file is read into memory first (at most YAML_GUARD_MAX_BYTES) and
 * checked byte by byte: a NUL byte, a control character other than line
 * feed and carriage return, and text that is not UTF-8 are errors at
 * FILE:LINE:COL (a NUL would silently end the document; a `%` directive
 * holding non-UTF-8 bytes makes the library's scanner loop forever), and so
 * are any directive line (`%YAML`, `%TAG`: experiment files use neither),
 * tab characters and explicit keys (`? key`): libfyaml 0.7.12 (Debian 12)
 * double-frees or crashes on inputs as short as "? a:<tab>:" (found by
 * tests/fuzz), and experiment files need neither; and two '' escapes in a
 * row in a single-quoted string, which the library decodes wrongly (and
 * leaks memory on; also found by tests/fuzz; double quotes say the same).
 * The library then parses with its duplicate-key check off (that check is
 * quadratic: 40,000 keys took 100 s) and this module finds duplicate keys
 * itself with a hash set per mapping, in linear time. The parse must yield
 * exactly one document; a second one (after `---` or `...`) is an error, as
 * are tags (`!!str`, `!x`), anchors (`&a`) and aliases (`*a`) — they would
 * make a value mean something other than what it shows — and mapping keys
 * that are not plain scalars.
 *
 * With these bounds a file costs time and memory linear in its size, which
 * is capped, so no experiment file can hang or exhaust the program.
 *
 * Must not be asked to: interpret values (config.c and validate.h do), or
 * read files larger than the cap (they are refused, not truncated). */
#ifndef VB_YAML_GUARD_H
#define VB_YAML_GUARD_H

#include <stddef.h>

#include "kernels/status.h"

struct fy_document;

/* Largest YAML file accepted (shipped experiment files are 1-3 KB). */
#define YAML_GUARD_MAX_BYTES (1u << 20)

/* Read, check and parse `path`; on success *out is the document (free it
 * with fy_document_destroy). Errors are VB_ERR_INPUT "PATH:LINE:COL: ..."
 * (VB_ERR_IO when the file cannot be read). */
VbStatus yaml_guard_load(const char *path, struct fy_document **out);

/* The same for text already in memory; `name` stands for the file in
 * messages (the fuzz targets use this). */
VbStatus yaml_guard_parse(const char *name, const char *text, size_t len, struct fy_document **out);

#endif
