/* Tests of the report templates (harness/report/templates.c and the
 * generated templates_embedded.c): expansion of placeholders, sections and
 * comments, the standalone-line rule, every malformed or unfilled
 * placeholder as an error naming the template, its line and the key, the
 * embedded set equal byte for byte to the files of reports/templates/ (so
 * the build embedded the current templates), and lookup with an override
 * directory. Tests run from the repository root; scratch files live under
 * tests/tmp/templates/, one name per test. */
#include "testutil.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/report/templates.h"

#define TT_DIR "tests/tmp/templates"

/* Expand text with vars; the status, and *out (freed by the caller). */
static VbStatus tt_expand(const char *text, const RepTplVar *v, int n, char **out) {
    vb_clear_error();
    return rep_tpl_expand("t.gp", text, v, n, out);
}

static void tt_expect(const char *text, const RepTplVar *v, int n, const char *want) {
    char *out;
    cr_assert_eq(tt_expand(text, v, n, &out), VB_OK, "%s", vb_errmsg());
    cr_assert_str_eq(out, want, "expanding \"%s\"", text);
    free(out);
}

/* text fails with VB_ERR_INPUT, a message holding every one of want[], and no output. */
static void tt_fails(const char *text, const RepTplVar *v, int n, const char *const *want,
                     int nwant) {
    char *out = (char *)1;
    cr_assert_eq(tt_expand(text, v, n, &out), VB_ERR_INPUT, "\"%s\" expanded", text);
    cr_assert_null(out, "no output after an error");
    for (int i = 0; i < nwant; i++)
        cr_assert(strstr(vb_errmsg(), want[i]), "message for \"%s\" lacks '%s': %s", text, want[i],
                  vb_errmsg());
}

Test(templates, placeholders_sections_comments) {
    RepTplVar v[] = {{"a", "A"}, {"b_2", "x{{y}}"}, {"on", "1"}, {"off", ""}, {"a", "second"}};
    /* values verbatim (never re-expanded), the first of a repeated key */
    tt_expect("[{{a}}|{{b_2}}|{{a}}]", v, 5, "[A|x{{y}}|A]");
    tt_expect("no placeholder, a lone { and }} stay", v, 5, "no placeholder, a lone { and }} stay");
    tt_expect("", v, 5, "");
    /* inline sections: on keeps and expands the text, off drops it */
    tt_expect("x{{#on}} <{{a}}>{{/on}}{{#off}} gone{{/off}}y", v, 5, "x <A>y");
    /* a tag alone on its line takes its newline; a tag sharing a line does not */
    tt_expect("1\n{{#on}}\n2 {{a}}\n{{/on}}\n{{#off}}\n3\n{{/off}}\n4\n", v, 5, "1\n2 A\n4\n");
    tt_expect("1 {{#on}}\n2\n{{/on}} 3\n", v, 5, "1 \n2\n 3\n");
    tt_expect("{{#on}}\nlast\n{{/on}}", v, 5, "last\n");
    /* nested sections, also of the same key */
    tt_expect("{{#on}}a{{#off}}b{{/off}}{{#on}}c{{/on}}d{{/on}}", v, 5, "acd");
    /* comments: dropped, with their line when alone on it (multi-line too) */
    tt_expect("{{! note\n  more }}\nx{{! inline }}y\n", v, 5, "xy\n");
}

Test(templates, a_placeholder_without_value_is_an_error_naming_template_line_and_key) {
    RepTplVar v[] = {{"series", "s"}, {"on", "1"}, {"off", ""}, {"nul", NULL}};
    const char *w1[] = {"t.gp:2:", "placeholder {{title}} has no value", "series, on, off"};
    tt_fails("line 1\nset title '{{title}}'\n", v, 4, w1, 3);
    /* a key given as NULL counts as missing */
    const char *w2[] = {"t.gp:1:", "{{nul}}"};
    tt_fails("{{nul}}", v, 4, w2, 2);
    /* a section key needs a value as well */
    const char *w3[] = {"t.gp:1:", "section {{#panel}} has no value"};
    tt_fails("{{#panel}}x{{/panel}}", v, 4, w3, 2);
    /* a missing key inside a section that is off is still an error */
    const char *w4[] = {"t.gp:3:", "{{width}}"};
    tt_fails("{{#off}}\nx\n{{width}}\n{{/off}}\n", v, 4, w4, 2);
    const char *w5[] = {"t.gp:2:", "section {{#on}} is never closed"};
    tt_fails("a\n{{#on}}\nb\n", v, 4, w5, 2);
    const char *w6[] = {"t.gp:1:", "{{/on}} closes no open section"};
    tt_fails("a{{/on}}", v, 4, w6, 2);
    /* anything else after "{{" is not silently copied */
    const char *w7[] = {"t.gp:1:", "is not a placeholder", "{{ series }}"};
    tt_fails("{{ series }}", v, 4, w7, 3);
    const char *w8[] = {"t.gp:1:", "{{Series}}"};
    tt_fails("{{Series}}", v, 4, w8, 2);
    const char *w9[] = {"t.gp:1:", "is not a placeholder"};
    tt_fails("x {{series", v, 4, w9, 2);
    tt_fails("{{}}", v, 4, w9, 2);
    tt_fails("{{! never closed", v, 4, w9, 2);
}

static char *tt_slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: cannot open", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    char *buf = malloc(*n + 1);
    cr_assert_eq(fread(buf, 1, *n, f), *n);
    fclose(f);
    buf[*n] = 0;
    return buf;
}

/* The program carries exactly the files of reports/templates/, byte for
 * byte: a stale or partial embedding fails here. */
Test(templates, every_template_file_is_embedded_unchanged) {
    DIR *dir = opendir("reports/templates");
    cr_assert_not_null(dir,
                       "reports/templates/ is missing (run the tests from the repository root)");
    int nfiles = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || e->d_name[len - 1] == '~') continue;
        char path[600];
        snprintf(path, sizeof path, "reports/templates/%s", e->d_name);
        struct stat sb;
        cr_assert_eq(stat(path, &sb), 0);
        if (!S_ISREG(sb.st_mode)) continue;
        nfiles++;
        const RepTplFile *t = rep_tpl_find(e->d_name);
        cr_assert_not_null(t, "%s is not embedded: rebuild (make)", path);
        size_t n;
        char *text = tt_slurp(path, &n);
        cr_assert(t->len == n && memcmp(t->text, text, n) == 0 && t->text[n] == 0,
                  "the embedded %s differs from the file: rebuild (make)", e->d_name);
        free(text);
    }
    closedir(dir);
    cr_assert_eq(nfiles, rep_tpl_nembedded, "%d files, %d embedded", nfiles, rep_tpl_nembedded);
    /* the templates the report code asks for */
    const char *used[] = {"style.gp",     "roc_unseen.gp", "decision_metrics.gp",
                          "training.gp",  "pareto.gp",     "latency_components.gp",
                          "confusion.gp", "report.html",   "report.css"};
    for (size_t i = 0; i < sizeof used / sizeof used[0]; i++)
        cr_assert_not_null(rep_tpl_find(used[i]), "%s is not embedded", used[i]);
    /* embedded in name order, so lookups and listings are stable */
    for (int i = 1; i < rep_tpl_nembedded; i++)
        cr_assert(strcmp(rep_tpl_embedded[i - 1].name, rep_tpl_embedded[i].name) < 0);
}

static void tt_write(const char *path, const char *text, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(text, 1, n, f), n);
    fclose(f);
}

Test(templates, override_directory_then_built_in) {
    mkdir("tests/tmp", 0777);
    mkdir(TT_DIR, 0777);
    const char *dir = TT_DIR "/override";
    mkdir(dir, 0777);
    tt_write(TT_DIR "/override/style.gp", "mine {{png_term}}\n", 18);
    unlink(TT_DIR "/override/pareto.gp");
    char *text, origin[600];
    cr_assert_eq(rep_tpl_load(dir, "style.gp", &text, origin, sizeof origin), VB_OK, "%s",
                 vb_errmsg());
    cr_assert_str_eq(text, "mine {{png_term}}\n");
    cr_assert_str_eq(origin, TT_DIR "/override/style.gp");
    free(text);
    /* not in the directory: the built-in one */
    cr_assert_eq(rep_tpl_load(dir, "pareto.gp", &text, origin, sizeof origin), VB_OK);
    cr_assert_str_eq(text, rep_tpl_find("pareto.gp")->text);
    cr_assert_str_eq(origin, "reports/templates/pareto.gp (built in)");
    free(text);
    cr_assert_eq(rep_tpl_load(NULL, "style.gp", &text, NULL, 0), VB_OK);
    cr_assert_str_eq(text, rep_tpl_find("style.gp")->text);
    free(text);
    /* the error of an overriding file names that file */
    RepTplVar none[] = {{"other", "x"}};
    cr_assert_eq(rep_tpl_render(dir, "style.gp", none, 1, &text), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), TT_DIR "/override/style.gp:1: placeholder {{png_term}}"), "%s",
              vb_errmsg());
    /* only the report's templates can be asked for */
    cr_assert_eq(rep_tpl_load(dir, "nosuch.gp", &text, NULL, 0), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "no report template named 'nosuch.gp'") &&
                  strstr(vb_errmsg(), "roc_unseen.gp"),
              "%s", vb_errmsg());
    /* a template is text */
    tt_write(TT_DIR "/override/report.css", "a\0b", 3);
    cr_assert_eq(rep_tpl_load(dir, "report.css", &text, NULL, 0), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "report.css: holds a NUL byte"), "%s", vb_errmsg());
    unlink(TT_DIR "/override/report.css");
    /* the directory itself must exist */
    cr_assert_eq(rep_tpl_check_dir(dir), VB_OK);
    cr_assert_eq(rep_tpl_check_dir(TT_DIR "/nosuch"), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), TT_DIR "/nosuch"), "%s", vb_errmsg());
    cr_assert_eq(rep_tpl_check_dir(TT_DIR "/override/style.gp"), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "not a directory"), "%s", vb_errmsg());
}
