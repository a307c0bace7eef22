/* ucf: UCF-Crime in its 64x64 PNG export — reader and writer.
 *
 * Layout: Train/<Class>/<Video>_x264_<frame>.png and Test/<Class>/..., in a
 * directory or in any archive libarchive reads (zip, tar, tar.gz, tar.zst,
 * 7z, ...), optionally inside one top folder. __MACOSX/ and hidden files
 * (any path component starting with '.') are ignored; "Train"/"Test" and
 * the ".png" extension match in any case. A frame belongs to the video
 * named by its file name up to the last underscore and is ordered by the
 * integer after it; its class is its folder's name; classes come from the
 * data, sorted. PNGs are decoded with libspng to RGB (any PNG colour type);
 * every frame must have the size of the first one.
 *
 * Reading is two passes: the index (member names and sizes, no data), then
 * decoding, in parallel batches, into a frame cache file (framecache.h)
 * keyed by the source's size, mtime and index digest; a later read of the
 * same source maps the cache and decodes nothing. With no_cache the frames
 * are decoded into memory instead.
 *
 * Errors name the member: a corrupt PNG, an unreadable or truncated entry,
 * a file outside the layout, an empty class folder, a frame of another
 * size, a duplicate frame number, a name with control characters, a member
 * that expands beyond its declared size or the member cap (safeio.h). With
 * skip_bad such entries are skipped and counted in Dataset.skipped instead
 * (a truncated archive then keeps the members before the damage and reports
 * a warning). Before the frame store is allocated, its size is checked
 * against the decoded-frame budget (safeio.h): a small archive cannot ask
 * for gigabytes of frames.
 *
 * The writer stores a Dataset in the same layout (file names
 * <video id>_<10*t>.png, like the export's every-10th-frame numbering) as
 * a directory, .zip, .tar, .tar.gz/.tgz, .tar.zst/.tzst or .7z, with
 * deterministic bytes (fixed timestamps, sorted entries).
 *
 * Must not be asked to: read frames of mixed sizes, or write into an
 * existing non-empty directory (an error, to avoid mixing data sets). */
#ifndef VB_UCF_H
#define VB_UCF_H

#include <stdbool.h>
#include <stdint.h>

#include "datasets/dataset.h"

/* Largest frame side accepted (pixels). */
#define UCF_MAX_SIDE 4096

typedef struct UcfOptions {
    const char *normal;    /* normal class name; NULL = NormalVideos */
    int expect_size;       /* > 0: frames must be expect_size x expect_size */
    bool skip_bad;         /* skip and count bad entries instead of failing */
    bool no_cache;         /* decode into memory, no cache file */
    const char *cache_dir; /* NULL = framecache_default_dir() */
    /* Called after each decoded batch (frames done, frames total). */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
} UcfOptions;

typedef struct UcfReport {
    bool cache_hit;        /* frames came from an existing cache file */
    char cache_file[1024]; /* "" without a cache */
    uint64_t cache_bytes;  /* size of the cache file */
    uint64_t members;      /* archive members / files listed */
    double seconds;        /* wall time of ucf_read */
    char warning[512];     /* e.g. a truncated archive read with skip_bad */
    char cache_note[512];  /* an existing cache file was discarded (why) */
    int orphans_removed;   /* temporary cache files of dead processes removed */
} UcfReport;

void ucf_defaults(UcfOptions *o);
/* Read a directory or archive into `out`; `rep` may be NULL. */
VbStatus ucf_read(const char *path, const UcfOptions *o, Dataset *out, UcfReport *rep);

typedef enum UcfContainer {
    UCF_DIR,
    UCF_ZIP,
    UCF_TAR,
    UCF_TAR_GZ,
    UCF_TAR_ZST,
    UCF_7Z
} UcfContainer;
/* Container chosen by the path's ending; anything unknown is a directory. */
UcfContainer ucf_container_for(const char *path);
/* Write ds in the export's layout, under `top` (NULL = no top folder). */
VbStatus ucf_write(const Dataset *ds, const char *path, const char *top);

#endif
