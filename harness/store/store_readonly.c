/* store_readonly: opening the results store for reading only, so that the
 * browsing commands (runs, show, export, report, check) work where nothing
 * can be written: a read-only directory or file, a full disk.
 *
 * A WAL database is normally read through its shared-memory file (-shm),
 * which SQLite creates next to the database on first use; in a read-only
 * directory or on a full disk it cannot, and even `sqlite3 -readonly` fails.
 * So: open read-only and read the schema version; if that fails because
 * nothing can be created or written, and the write-ahead log (-wal) is
 * absent or empty — every committed change is then in the database file
 * itself — open the file as immutable (no locks, no -shm). A non-empty log
 * that cannot be read is an error that says what to do. A file at an older
 * schema version is migrated first through a normal (writing) open, and is
 * an error when that is impossible; a newer one or a foreign database is
 * refused as in store_open.
 *
 * Must not be asked to: write (the connection is query_only), or read a
 * database that another process is writing while this one cannot create
 * the -shm file (immutable mode would not see its changes; the -wal check
 * refuses the common case). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/store/store_internal.h"

/* "file:" + path, percent-encoding what a URI must not hold, + query. */
static char *uri_for(const char *path, const char *query) {
    size_t n = strlen(path);
    char *u = vb_xmalloc(8 + 3 * n + strlen(query) + 1);
    size_t k = (size_t)sprintf(u, "file:");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)path[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("/._-~", c))
            u[k++] = (char)c;
        else k += (size_t)sprintf(u + k, "%%%02X", c);
    }
    strcpy(u + k, query);
    return u;
}

/* Errors that mean "cannot create or write what reading needs". */
static bool cannot_write(int rc) {
    int p = rc & 0xff;
    return p == SQLITE_CANTOPEN || p == SQLITE_READONLY || p == SQLITE_IOERR || p == SQLITE_FULL ||
           p == SQLITE_PERM;
}

static uint64_t wal_bytes(const char *path) {
    size_t n = strlen(path);
    char *w = vb_xmalloc(n + 5);
    memcpy(w, path, n);
    memcpy(w + n, "-wal", 5);
    struct stat sb;
    uint64_t b = stat(w, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    free(w);
    return b;
}

/* Open with `flags` (a plain path, or a URI); read the version and the
 * number of tables. *rc gets SQLite's code of the first failure. */
static VbStatus try_open(Store *st, const char *name, int flags, int *version, int *ntables,
                         int *rc) {
    *rc = sqlite3_open_v2(name, &st->db, flags, NULL);
    if (*rc != SQLITE_OK) return STORE_DB_FAIL(st, "opening read-only");
    VB_TRY(store_setup_connection(st));
    VB_TRY(store_exec(st, "PRAGMA query_only = 1"));
    sqlite3_stmt *s = NULL;
    *rc = sqlite3_prepare_v2(st->db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'", -1,
                             &s, NULL);
    if (*rc == SQLITE_OK) {
        *rc = sqlite3_step(s);
        *ntables = sqlite3_column_int(s, 0);
        if (*rc == SQLITE_ROW) *rc = SQLITE_OK;
    }
    if (*rc != SQLITE_OK) {
        VbStatus e = STORE_DB_FAIL(st, "reading");
        sqlite3_finalize(s);
        return e;
    }
    sqlite3_finalize(s);
    return store_read_version(st, version);
}

VbStatus store_open_readonly(Store *st) {
    int version = 0, ntables = 0, rc = SQLITE_OK;
    VbStatus s = try_open(st, st->path, SQLITE_OPEN_READONLY, &version, &ntables, &rc);
    if (s != VB_OK && cannot_write(rc)) {
        uint64_t wal = wal_bytes(st->path);
        if (wal > 0)
            return vb_fail_plain(VB_ERR_DB,
                                 "%s: cannot be read here: SQLite cannot create its -shm file next "
                                 "to it (read-only directory or full disk?) and %s-wal holds %llu "
                                 "bytes of changes not yet in the file; copy the database and its "
                                 "-wal file to a writable place, or free space",
                                 st->path, st->path, (unsigned long long)wal);
        sqlite3_close(st->db);
        st->db = NULL;
        char *uri = uri_for(st->path, "?immutable=1");
        s = try_open(st, uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, &version, &ntables, &rc);
        free(uri);
    }
    VB_TRY(s);
    VB_TRY(store_check_version(st, version, ntables));
    if (version == 0)
        return vb_fail_plain(VB_ERR_INPUT,
                             "%s: an empty database, not a results store yet (`vadbench run` "
                             "fills it)",
                             st->path);
    st->schema_version = version;
    return VB_OK;
}
