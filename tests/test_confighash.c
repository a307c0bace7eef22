/* Tests of config hashes (harness/experiment/confighash.c) and of the store
 * migration that renames runs to them (harness/store/store_schema.c,
 * version 3).
 *
 * The property the hash format exists for: adding a key to the schema with a
 * default that keeps old behaviour leaves every existing hash unchanged. A
 * schema key is a member of the sections' JSON (run_config_json), present in
 * a cell's full form and in the defaults alike, so the tests extend the
 * schema exactly there — in the defaults and in each cell of every shipped
 * experiment — and ask for the same hashes. tests/golden/schema_defaults.json
 * holds the defaults of today's keys: a default that changes would silently
 * change what every stored hash means, so that test fails and says to bump
 * CONFIG_HASH_EPOCH instead. */
#include <criterion/criterion.h>
#include <glob.h>
#include <jansson.h>

#include "harness/experiment/experiment.h"
#include "harness/store/store.h"
#include "store_testutil.h"

static json_t *defaults_json(void) {
    RunConfig d;
    run_config_defaults(&d);
    return run_config_json(&d);
}

/* Every cell of an experiment file, with one digest for all variants. */
static void load_cells(const char *path, Experiment *e, Cell **cells, int *n) {
    cr_assert_eq(experiment_load(path, e), VB_OK, "%s", vb_errmsg());
    const char *dig[64];
    cr_assert(e->nvariants <= 64);
    for (int i = 0; i < e->nvariants; i++) dig[i] = "digest";
    cr_assert_eq(experiment_cells(e, dig, cells, n), VB_OK, "%s", vb_errmsg());
}

Test(confighash, a_new_key_at_its_default_leaves_every_shipped_hash_unchanged) {
    glob_t g;
    cr_assert_eq(glob("experiments/*.yaml", 0, NULL, &g), 0);
    cr_assert(g.gl_pathc >= 6, "only %zu shipped experiments found", g.gl_pathc);
    json_t *def = defaults_json();
    json_t *def2 = json_deep_copy(def);
    /* the extended schema: a scalar key, and a key in a new group */
    json_object_set_new(json_object_get(def2, "train"), "zz_new_option", json_integer(7));
    json_object_set_new(json_object_get(def2, "model"), "zz_group",
                        json_pack("{s:f}", "ratio", 1.5));
    int total = 0;
    for (size_t f = 0; f < g.gl_pathc; f++) {
        Experiment e;
        Cell *cells;
        int n;
        load_cells(g.gl_pathv[f], &e, &cells, &n);
        for (int i = 0; i < n; i++, total++) {
            json_t *c2 = json_deep_copy(cells[i].config);
            json_object_set_new(json_object_get(c2, "train"), "zz_new_option", json_integer(7));
            json_object_set_new(json_object_get(c2, "model"), "zz_group",
                                json_pack("{s:f}", "ratio", 1.5));
            char h[33], h2[33];
            config_hash_with(c2, def2, "digest", h);
            cr_assert_str_eq(h, cells[i].hash, "%s cell %d: the extended schema renamed it",
                             g.gl_pathv[f], i);
            /* the new key set away from its default does rename the cell */
            json_object_set_new(json_object_get(c2, "train"), "zz_new_option", json_integer(8));
            config_hash_with(c2, def2, "digest", h2);
            cr_assert_str_neq(h2, cells[i].hash);
            json_decref(c2);
        }
        experiment_cells_free(cells, n);
        experiment_free(&e);
    }
    cr_assert(total >= 20, "only %d cells", total);
    json_decref(def), json_decref(def2);
    globfree(&g);
}

/* A different value of the same JSON type. */
static json_t *changed(json_t *v, const CfgKey *k) {
    switch (json_typeof(v)) {
    case JSON_INTEGER: return json_integer(json_integer_value(v) + 1);
    case JSON_REAL: return json_real(json_real_value(v) * 1.5 + 0.125);
    case JSON_TRUE: return json_false();
    case JSON_FALSE: return json_true();
    case JSON_STRING:
        if (k->kind == CFG_CHOICE) {
            for (int i = 0; k->choices[i]; i++)
                if (strcmp(k->choices[i], json_string_value(v))) return json_string(k->choices[i]);
            return NULL; /* a choice with one name cannot change */
        }
        return json_sprintf("%sx", json_string_value(v));
    case JSON_ARRAY: {
        json_t *a = json_deep_copy(v);
        json_array_append_new(a, json_integer(3));
        return a;
    }
    default: return NULL;
    }
}

/* The member of a section for a dotted key, and its parent. */
static json_t *member(json_t *sec, const char *key, json_t **parent, char leaf[64]) {
    json_t *cur = sec;
    const char *p = key, *dot;
    while ((dot = strchr(p, '.')) != NULL) {
        char part[64];
        snprintf(part, sizeof part, "%.*s", (int)(dot - p), p);
        cur = json_object_get(cur, part);
        p = dot + 1;
    }
    snprintf(leaf, 64, "%s", p);
    *parent = cur;
    return json_object_get(cur, p);
}

Test(confighash, changing_any_value_changes_the_hash) {
    Experiment e;
    Cell *cells;
    int n;
    load_cells("experiments/quickstart.yaml", &e, &cells, &n);
    const char *secs[] = {"dataset", "model", "train", "eval"};
    const CfgSchema *schemas[] = {&cfg_data_schema, &cfg_model_schema, &cfg_train_schema,
                                  &cfg_eval_schema};
    int changedn = 0;
    for (int s = 0; s < 4; s++)
        for (int i = 0; i < schemas[s]->nkeys; i++) {
            const CfgKey *k = &schemas[s]->keys[i];
            json_t *c = json_deep_copy(cells[0].config), *parent;
            char leaf[64];
            json_t *v = member(json_object_get(c, secs[s]), k->key, &parent, leaf);
            cr_assert_not_null(v, "%s.%s missing from the full form", secs[s], k->key);
            json_t *nv = changed(v, k);
            if (nv) {
                json_object_set_new(parent, leaf, nv);
                char h[33];
                config_hash(c, "digest", h);
                cr_assert_str_neq(h, cells[0].hash, "changing %s.%s kept the hash", secs[s],
                                  k->key);
                changedn++;
            }
            json_decref(c);
        }
    cr_assert(changedn > 60, "only %d keys changed", changedn);
    const char *top[] = {"experiment", "variant", "backend"};
    for (int i = 0; i < 3; i++) {
        json_t *c = json_deep_copy(cells[0].config);
        json_object_set_new(c, top[i], json_string("other"));
        char h[33];
        config_hash(c, "digest", h);
        cr_assert_str_neq(h, cells[0].hash, "changing %s kept the hash", top[i]);
        json_decref(c);
    }
    char h[33];
    config_hash(cells[0].config, "other digest", h);
    cr_assert_str_neq(h, cells[0].hash, "the data set's digest is part of the hash");
    cr_assert_str_neq(cells[0].hash, cells[1].hash, "two seeds, one hash");
    experiment_cells_free(cells, n);
    experiment_free(&e);
}

Test(confighash, defaults_of_existing_keys_never_change) {
    json_error_t err;
    json_t *golden = json_load_file("tests/golden/schema_defaults.json", 0, &err);
    cr_assert_not_null(golden, "tests/golden/schema_defaults.json: %s", err.text);
    json_t *def = defaults_json();
    /* every key the golden file knows keeps its default... */
    json_t *h = config_hashed_form(golden, def);
    char *left = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_str_eq(left, "{}",
                     "defaults changed or keys removed: %s (a changed default changes what "
                     "every stored hash means: bump CONFIG_HASH_EPOCH instead)",
                     left);
    free(left), json_decref(h);
    /* ...and a key added since is listed there too, so that the rule covers it */
    h = config_hashed_form(def, golden);
    left = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_str_eq(left, "{}",
                     "new schema keys %s: add them to tests/golden/schema_defaults.json", left);
    free(left), json_decref(h);
    json_decref(def), json_decref(golden);
}

/* The quickstart as it was when hashes changed format, and what a real store
 * of hash format 1 recorded for it (option_a/option_b × seeds 0/1 with this
 * synthetic data set's digest). */
#define QS_DIGEST "4c07aacdc133426d6d4874eee1c4c2ea"
static const char *const QS_LEGACY[4] = {
    "8f3aa91c7f66a141f0140bf96a2c8507", "ebe85b9c9a1e6e188014b49c52563b08",
    "71705268af83ed274e6dab7aa33c8a71", "57d9f35aa7e1223ce30f79a22ed4ccb5"};
static const char *const QS_HASH[4] = {
    "dab2038c0bd4ce6dec9756f9f727e339", "b805db33b99247d80c1f052f638b4c17",
    "5cec3d88c10c3112f0e8bbe2954b39e4", "0779611629dab0559ed1ea21af02b26e"};

static void qs_cells(Experiment *e, Cell **cells, int *n) {
    cr_assert_eq(experiment_load("tests/golden/hash_quickstart.yaml", e), VB_OK, "%s", vb_errmsg());
    const char *dig[2] = {QS_DIGEST, QS_DIGEST};
    cr_assert_eq(experiment_cells(e, dig, cells, n), VB_OK);
    cr_assert_eq(*n, 4);
}

Test(confighash, legacy_and_current_hashes_are_pinned) {
    Experiment e;
    Cell *cells;
    int n;
    qs_cells(&e, &cells, &n);
    for (int i = 0; i < n; i++) {
        cr_assert_str_eq(cells[i].legacy_hash, QS_LEGACY[i], "cell %d", i);
        cr_assert_str_eq(cells[i].hash, QS_HASH[i], "cell %d", i);
    }
    experiment_cells_free(cells, n);
    experiment_free(&e);
}

/* A store of schema version 2 as the previous vadbench wrote it: runs named
 * by their legacy hashes; run 4 was never started (no data-set digest). */
static void write_v2_store(const char *db, Cell *cells) {
    Store *st;
    cr_assert_eq(store_open(db, STORE_CREATE, &st), VB_OK, "%s", vb_errmsg());
    int64_t exp;
    cr_assert_eq(store_ensure_experiment(st, "quickstart", "", "q.yaml", &exp), VB_OK);
    StoreCell sc[4];
    char *canon[4];
    for (int i = 0; i < 4; i++) {
        canon[i] = config_canonical(cells[i].config);
        sc[i] = (StoreCell){"v", i, "h", canon[i], cells[i].legacy_hash, NULL};
    }
    cr_assert_eq(store_register_cells(st, exp, sc, 4, NULL), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(store_close(st), VB_OK);
    for (int i = 0; i < 4; i++) free(canon[i]);
    raw_exec(db, "UPDATE runs SET dataset_digest = '" QS_DIGEST "', status = 'done' WHERE id < 4;"
                 "DROP VIEW run_summary;"
                 "DROP INDEX runs_legacy_hash; ALTER TABLE runs DROP COLUMN legacy_hash;"
                 "ALTER TABLE runs DROP COLUMN slurm_job_id;"
                 "ALTER TABLE runs DROP COLUMN slurm_array_task_id;"
                 "ALTER TABLE runs DROP COLUMN slurm_node;"
                 "ALTER TABLE runs DROP COLUMN cpu_path; ALTER TABLE runs DROP COLUMN numerics;"
                 "ALTER TABLE runs DROP COLUMN transient; ALTER TABLE runs DROP COLUMN resumes;"
                 "PRAGMA user_version = 2;");
}

Test(confighash, a_version_2_store_is_renamed_and_old_hashes_still_found) {
    Experiment e;
    Cell *cells;
    int n;
    qs_cells(&e, &cells, &n);
    char db[256];
    tsu_path("hash_v2", db, sizeof db);
    write_v2_store(db, cells);
    Store *st;
    cr_assert_eq(store_open(db, STORE_EXISTING, &st), VB_OK, "%s", vb_errmsg());
    int v;
    cr_assert_eq(store_schema_version(st, &v), VB_OK);
    cr_assert_eq(v, STORE_SCHEMA_VERSION);
    for (int i = 0; i < 3; i++) {
        char sql[160], *got;
        snprintf(sql, sizeof sql,
                 "SELECT config_hash || '/' || legacy_hash FROM runs WHERE id = %d", i + 1);
        got = q1s(db, sql);
        char want[80];
        snprintf(want, sizeof want, "%s/%s", cells[i].hash, cells[i].legacy_hash);
        cr_assert_str_eq(got, want, "run %d", i + 1);
        free(got);
        /* `vadbench show` by either hash */
        StoreRun r;
        char prefix[13];
        snprintf(prefix, sizeof prefix, "%.12s", cells[i].legacy_hash);
        cr_assert_eq(store_find_run(st, prefix, &r), VB_OK, "%s", vb_errmsg());
        cr_assert_eq(r.id, i + 1);
        store_run_free(&r);
        snprintf(prefix, sizeof prefix, "%.12s", cells[i].hash);
        cr_assert_eq(store_find_run(st, prefix, &r), VB_OK, "%s", vb_errmsg());
        cr_assert_eq(r.id, i + 1);
        store_run_free(&r);
    }
    /* the never-started run keeps its old name until the runner registers it */
    char *got = q1s(db, "SELECT config_hash FROM runs WHERE id = 4");
    cr_assert_str_eq(got, cells[3].legacy_hash);
    free(got);
    StoreCell sc[4];
    char *canon[4];
    for (int i = 0; i < 4; i++) {
        canon[i] = config_canonical(cells[i].config);
        sc[i] = (StoreCell){"v", i, "h", canon[i], cells[i].hash, cells[i].legacy_hash};
    }
    StoreRegistered reg[4];
    cr_assert_eq(store_register_cells(st, 1, sc, 4, reg), VB_OK, "%s", vb_errmsg());
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(reg[i].run_id, i + 1, "cell %d registered as a new run", i);
        cr_assert(!reg[i].created);
        free(canon[i]);
    }
    cr_assert_eq(reg[0].status, STORE_DONE);
    got = q1s(db, "SELECT config_hash || '/' || legacy_hash FROM runs WHERE id = 4");
    char want[80];
    snprintf(want, sizeof want, "%s/%s", cells[3].hash, cells[3].legacy_hash);
    cr_assert_str_eq(got, want);
    free(got);
    cr_assert_eq(q1(db, "SELECT count(*) FROM runs"), 4.0);
    cr_assert_eq(store_close(st), VB_OK);
    experiment_cells_free(cells, n);
    experiment_free(&e);
}
