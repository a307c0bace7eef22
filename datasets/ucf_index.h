/* ucf_index: pass 1 of the UCF-Crime reader — list a directory or an
 * archive's members (names, sizes, kinds; no data), apply the layout rules
 * (ucf.h), and sort the frames by (split, class, video, frame number).
 *
 * Each Entry keeps its member name as stored, for messages; frames get a
 * slot (their rank in the sorted order) that is their place in the frame
 * store before skipped frames are compacted away. The cache key (size,
 * mtime, digest of the member list, flags) is filled here.
 *
 * Must not be asked to: read member data (that is ucf.c's second pass). */
#ifndef VB_UCF_INDEX_H
#define VB_UCF_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datasets/framecache.h"

struct archive;
struct archive_entry;

#define UCF_FORMAT_VERSION 1u
#define UCF_NO_SLOT UINT64_MAX

typedef enum EntryKind { EK_FILE, EK_DIR, EK_OTHER } EntryKind;
typedef enum EntryState { ES_IGNORED, ES_FRAME, ES_CLASSDIR, ES_BAD } EntryState;

typedef struct Entry {
    char *raw; /* member name as stored */
    uint64_t size;
    uint8_t kind, state, split;
    int cls;                   /* index into Index.cls */
    uint32_t vid_off, vid_len; /* video id inside raw */
    uint64_t frame;            /* frame number */
    uint64_t slot;
} Entry;

typedef struct Index {
    const char *path;
    bool is_dir;
    bool skip_bad;
    Entry *e;
    size_t n, cap;
    CacheKey key;
    char **cls;
    int ncls;
    size_t *order; /* frame entries sorted by (split, class, video, frame) */
    size_t nframes;
    uint64_t skipped;
    char warning[512];
} Index;

/* List and classify; errors name the member (unless skip_bad). */
VbStatus ucf_index_build(Index *ix, const char *path, bool is_dir, bool skip_bad);
void ucf_index_free(Index *ix);
/* Mark e bad: with skip_bad count it and return VB_OK, else an error
 * "<path>: member '<name>': <message>". */
VbStatus ucf_index_bad(Index *ix, Entry *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A fatal archive error in member `raw` (or after it when `after`; NULL
 * before any member): an error, or with skip_bad a warning recorded in
 * ix->warning and VB_OK (the unreadable rest after a member counts as one
 * skipped entry). */
VbStatus ucf_archive_fatal(Index *ix, struct archive *a, const char *raw, bool after);
VbStatus ucf_open_archive(const char *path, struct archive **out);
const char *ucf_entry_name(struct archive_entry *ent);
bool ucf_same_video(const Entry *a, const Entry *b);
static inline const char *ucf_member_word(const Index *ix) {
    return ix->is_dir ? "file" : "member";
}

#endif
