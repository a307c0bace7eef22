/* report_claims: claims tables (see report_claims.h). */
#include "harness/report/report_claims.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

RepQuantity rep_q_claim(const RepData *d, const Claim *c) {
    const ClaimMetric *m = &c->metric;
    char label[200], a[REP_NAME], b[REP_NAME];
    RepQuantity q;
    if (m->kind == CLAIM_LATENCY) {
        snprintf(label, sizeof label, "`%s` (median, ms per %s)", m->spec,
                 m->per_frame ? "frame" : "clip");
        q = rep_q_latency(m->component, m->batch, m->per_frame, label);
        q.zero_if_absent = c->missing_is_zero;
    } else {
        claim_metric_name(m->a, d->score, a, sizeof a);
        snprintf(label, sizeof label, "`%s`", a);
        q = rep_q_final(d, a, NULL);
        if (m->kind == CLAIM_FINAL_SUM) {
            claim_metric_name(m->b, d->score, b, sizeof b);
            char split[32];
            rep_metric_split(d, b, split, sizeof split, q.key2, sizeof q.key2);
            q.kind = RQ_FINAL_SUM;
            snprintf(q.name, sizeof q.name, "%s + %s", a, b);
            snprintf(label, sizeof label, "`%s` + `%s`", a, b);
        }
        snprintf(q.label, sizeof q.label, "%s", label);
    }
    if (!strcmp(c->unit, "%")) q.scale = 100, snprintf(q.unit, sizeof q.unit, "%%");
    else if (*c->unit) snprintf(q.unit, sizeof q.unit, "%s", c->unit);
    return q;
}

int rep_claim_baseline(const RepData *d, const Claim *c) {
    return rep_variant_index(d, *c->baseline ? c->baseline : d->cmp.baseline);
}

/* "+3 to +5 pp", "-3 pp", "+20 to +30%": the claimed change in display units. */
static void claimed_text(const Claim *c, const RepQuantity *q, char *buf, size_t size) {
    const char *u = c->expect == CLAIM_RELATIVE ? "%"
                    : !strcmp(q->unit, "%")     ? " pp"
                    : *q->unit                  ? " "
                                                : "";
    const char *uu = c->expect == CLAIM_RELATIVE || !strcmp(q->unit, "%") ? "" : q->unit;
    if (c->lo == c->hi) snprintf(buf, size, "%+g%s%s", c->lo, u, uu);
    else snprintf(buf, size, "%+g to %+g%s%s", c->lo, c->hi, u, uu);
}

/* Does the claimed difference fall inside the measured interval? */
static void claim_check(const Claim *c, const RepQuantity *q, const RepPaired *p, bool have,
                        char *buf, size_t size) {
    if (c->expect == CLAIM_MEASURE) {
        snprintf(buf, size, "measured only (nothing claimed)");
        return;
    }
    char claimed[80];
    claimed_text(c, q, claimed, sizeof claimed);
    if (!have || !p->ci.defined) {
        snprintf(buf, size, "claimed \xce\x94 %s; not testable (%d pair%s)", claimed,
                 have ? p->npairs : 0, have && p->npairs == 1 ? "" : "s");
        return;
    }
    double lo = p->ci.lo, hi = p->ci.hi;
    if (c->expect == CLAIM_RELATIVE) {
        if (!(p->base_mean > 0)) {
            snprintf(buf, size, "claimed \xce\x94 %s; baseline is 0, not testable", claimed);
            return;
        }
        lo = 100 * lo / p->base_mean, hi = 100 * hi / p->base_mean;
    }
    bool inside = c->hi >= lo && c->lo <= hi;
    if (c->expect == CLAIM_RELATIVE) {
        char a[32], b[32];
        double hw = rep_real_width((hi - lo) / 2, fmax(fabs(lo), fabs(hi)));
        stats_format_value(lo, hw > 0 ? hw : NAN, a, sizeof a);
        stats_format_value(hi, hw > 0 ? hw : NAN, b, sizeof b);
        snprintf(buf, size, "claimed \xce\x94 %s; measured [%s%%, %s%%]: %s", claimed, a, b,
                 inside ? "consistent" : "outside the 95% CI");
    } else {
        snprintf(buf, size, "claimed \xce\x94 %s: %s", claimed,
                 inside ? "consistent with the 95% CI" : "outside the 95% CI");
    }
}

/* The smallest claimed change, in displayed units: the bound of the claimed
 * range nearest zero (NAN when the range holds zero or nothing is claimed). */
static double claimed_effect(const Claim *c, const RepPaired *p) {
    if (c->expect != CLAIM_DIFFERENCE && c->expect != CLAIM_RELATIVE) return NAN;
    double e = c->lo > 0 ? c->lo : c->hi < 0 ? c->hi : NAN;
    if (c->expect == CLAIM_RELATIVE) e = p->base_mean > 0 ? e * p->base_mean / 100 : NAN;
    return e;
}

RepTable *rep_table_claims(const RepData *d, int vb, int vc) {
    RepTable *t = NULL;
    for (int i = 0; i < d->cmp.nclaims; i++) {
        const Claim *c = &d->cmp.claims[i];
        if (c->expect == CLAIM_LEVEL || rep_claim_baseline(d, c) != vb ||
            !claim_covers(c, d->variants[vc].name))
            continue;
        if (!t) {
            char hb[REP_NAME + 32], hc[REP_NAME + 32], hd[2 * REP_NAME + 64];
            snprintf(hb, sizeof hb, "%s (baseline, %d runs)", d->variants[vb].name,
                     d->variants[vb].n);
            snprintf(hc, sizeof hc, "%s (%d runs)", d->variants[vc].name, d->variants[vc].n);
            snprintf(hd, sizeof hd, "\xce\x94 %s \xe2\x88\x92 %s [bootstrap 95%% CI] (pairs)",
                     d->variants[vc].name, d->variants[vb].name);
            const char *head[] = {"claim",
                                  "source",
                                  "its figure",
                                  "measured as",
                                  hb,
                                  hc,
                                  hd,
                                  "verdict",
                                  "claim vs measurement",
                                  "detectable \xce\x94 (80% power); pairs to detect the claim"};
            t = rep_table_new(10, head);
            for (int col = 4; col <= 6; col++) rep_table_align_right(t, col);
        }
        RepQuantity q = rep_q_claim(d, c);
        char b[160], cc[160], df[240], ck[240], pw[200];
        rep_cell_summary(d, vb, &q, b, sizeof b);
        rep_cell_summary(d, vc, &q, cc, sizeof cc);
        RepPaired p;
        bool ok = rep_q_paired(d, vb, vc, &q, &p);
        if (ok) {
            rep_fmt_paired(&p, q.unit, df, sizeof df);
            size_t len = strlen(df);
            snprintf(df + len, sizeof df - len, " (%d)", p.npairs);
        }
        claim_check(c, &q, &p, ok, ck, sizeof ck);
        if (ok) rep_fmt_power(&p, q.unit, claimed_effect(c, &p), false, pw, sizeof pw);
        const char *row[] = {c->statement,
                             c->source,
                             *c->figure ? c->figure : "\xe2\x80\x93",
                             q.label,
                             b,
                             cc,
                             ok ? df : "n/a (no pairs)",
                             ok ? stats_verdict_name(p.verdict) : "n/a",
                             ck,
                             ok ? pw : "n/a"};
        rep_table_row(t, row);
    }
    return t;
}

/* The mean over the claim's variants: of each variant's mean when several
 * variants have runs (interval across variants), else over the one
 * variant's runs. false when no run has the quantity. */
static bool level_summary(const RepData *d, const Claim *c, const RepQuantity *q, Summary *s,
                          int *nvar, int *nruns) {
    double *m = vb_xmalloc((size_t)(d->nvariants ? d->nvariants : 1) * sizeof *m);
    int k = 0, one = -1;
    *nruns = 0;
    for (int v = 0; v < d->nvariants; v++) {
        Summary sv;
        if (!claim_covers(c, d->variants[v].name) || !rep_q_summary(d, v, q, &sv)) continue;
        m[k++] = sv.mean, one = v, *nruns += (int)sv.n;
    }
    *nvar = k;
    bool ok = false;
    if (k >= 2) ok = stats_summary(m, (size_t)k, REP_LEVEL, s) == VB_OK;
    else if (k == 1) ok = rep_q_summary(d, one, q, s);
    if (!ok) vb_clear_error();
    free(m);
    return ok;
}

RepTable *rep_table_levels(const RepData *d) {
    RepTable *t = NULL;
    for (int i = 0; i < d->cmp.nclaims; i++) {
        const Claim *c = &d->cmp.claims[i];
        if (c->expect != CLAIM_LEVEL) continue;
        if (!t) {
            const char *head[] = {"claim",
                                  "source",
                                  "published",
                                  "measured as",
                                  "measured [95% CI]",
                                  "over",
                                  "measured \xe2\x88\x92 published",
                                  "verdict"};
            t = rep_table_new(8, head);
            for (int col = 2; col <= 6; col++) rep_table_align_right(t, col);
        }
        RepQuantity q = rep_q_claim(d, c);
        double scale = q.scale;
        char pub[80], meas[120] = "n/a", over[80] = "no runs", diff[80] = "n/a",
                      verdict[200] = "not testable (no runs)";
        if (isnan(c->spread)) stats_format_value(c->value * scale, NAN, pub, sizeof pub);
        else stats_format_pm(c->value * scale, c->spread * scale, pub, sizeof pub);
        Summary s;
        int nvar, nruns;
        if (level_summary(d, c, &q, &s, &nvar, &nruns)) {
            double hw = s.n >= 2 && s.ci.defined ? rep_real_width(s.half_width, s.mean) : NAN;
            char lo[40], hi[40], mean[40];
            stats_format_value(s.mean, hw, mean, sizeof mean);
            if (s.n >= 2 && s.ci.defined) {
                stats_format_value(s.ci.lo, hw, lo, sizeof lo);
                stats_format_value(s.ci.hi, hw, hi, sizeof hi);
                snprintf(meas, sizeof meas, "%s [%s, %s]", mean, lo, hi);
            } else {
                snprintf(meas, sizeof meas, "%s (no interval)", mean);
            }
            snprintf(over, sizeof over, "%d variant%s, %d run%s", nvar, nvar == 1 ? "" : "s", nruns,
                     nruns == 1 ? "" : "s");
            double delta = s.mean - c->value * scale;
            char dv[40];
            stats_format_value(delta, hw, dv, sizeof dv);
            snprintf(diff, sizeof diff, "%s%s", delta > 0 ? "+" : "", dv);
            bool inside = s.n >= 2 && s.ci.defined && s.ci.lo <= c->value * scale &&
                          c->value * scale <= s.ci.hi;
            if (!isnan(c->tolerance))
                snprintf(verdict, sizeof verdict, "%s (tolerance \xc2\xb1%g); published value %s",
                         fabs(delta) <= c->tolerance * scale ? "reproduced" : "not reproduced",
                         c->tolerance * scale,
                         s.n < 2 || !s.ci.defined ? "not testable against an interval"
                         : inside                 ? "inside the 95% CI"
                                                  : "outside the 95% CI");
            else
                snprintf(verdict, sizeof verdict, "published value %s",
                         s.n < 2 || !s.ci.defined ? "not testable (no interval)"
                         : inside                 ? "inside the 95% CI"
                                                  : "outside the 95% CI");
        }
        if (*q.unit) {
            const char *u = !strcmp(q.unit, "%") ? " pp" : q.unit;
            size_t n = strlen(pub);
            snprintf(pub + n, sizeof pub - n, " %s", q.unit);
            n = strlen(meas);
            if (strcmp(meas, "n/a")) snprintf(meas + n, sizeof meas - n, " %s", q.unit);
            n = strlen(diff);
            if (strcmp(diff, "n/a"))
                snprintf(diff + n, sizeof diff - n, "%s%s", *u == ' ' ? "" : " ", u);
        }
        const char *row[] = {c->statement, c->source, pub, q.label, meas, over, diff, verdict};
        rep_table_row(t, row);
    }
    return t;
}
