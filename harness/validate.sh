#!/bin/sh
# validate.sh: `make validate` and `make validate-twin` — does the harness
# reproduce a published number? Runs experiments/ruff_fmnist.yaml (Ruff et
# al.'s one-class Deep SVDD on Fashion-MNIST, 10 normal classes x 3 seeds)
# into its own database and prints, per normal class, the mean test AUROC
# over seeds with its 95% t-interval, the mean over the 10 classes against
# the published 0.892 +- 0.062 (Deep SAD, ICLR 2020, Table 1, gamma_l = 0),
# and, where the PyTorch twin (tests/reference/ruff_twin.py) has run the same
# cells, its numbers beside vadbench's.
#
#   sh harness/validate.sh run     run the missing cells (done ones are skipped), then the table
#   sh harness/validate.sh table   the table only
#   sh harness/validate.sh twin    run the twin on VALIDATE_TWIN_CLASSES x VALIDATE_TWIN_SEEDS
#                                  (label indices, default 0,1,6 = T-shirt, Trouser, Shirt; seeds
#                                  0,1,2), storing AUROCs in the twin's JSON, then the table
# Environment: VALIDATE_DB (results/validate.db), VALIDATE_TWIN (results/validate_twin.json),
# VALIDATE_TWIN_CLASSES, VALIDATE_TWIN_SEEDS, VALIDATE_THREADS (the twin's torch threads, 2).
# Long: a cell is minutes on 2 cores; run it niced in the background on a shared machine.
set -eu
mode=${1:-run}
DB=${VALIDATE_DB:-results/validate.db}
TWIN=${VALIDATE_TWIN:-results/validate_twin.json}
EXP=experiments/ruff_fmnist.yaml
PUBLISHED=0.892
SPREAD=0.062
TOL=0.02

case "$mode" in
run)
    # seed by seed (every class at seed 0 first: the mean over classes early), then
    # whatever else the file lists
    rc=0
    for s in 0 1 2; do ./vadbench run "$EXP" --db "$DB" --only "*/*/seed$s" || rc=1; done
    ./vadbench run "$EXP" --db "$DB" || rc=1
    [ $rc -eq 0 ] || echo "validate: some cells did not finish (see above); the table shows what is done" >&2 ;;
twin)
    /usr/bin/python3 tests/reference/ruff_twin.py run --classes "${VALIDATE_TWIN_CLASSES:-0,1,6}" \
        --seeds "${VALIDATE_TWIN_SEEDS:-0,1,2}" --threads "${VALIDATE_THREADS:-2}" --out "$TWIN" ;;
table) ;;
*) echo "usage: sh harness/validate.sh [run|table|twin]" >&2; exit 2 ;;
esac

[ -f "$DB" ] || { echo "validate: no database $DB yet (run: make validate)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# class seed auroc, one line per finished vadbench cell
sqlite3 -separator ' ' "$DB" "SELECT replace(r.variant, 'normal_', ''), r.seed, m.value
  FROM final_metrics m JOIN runs r ON r.id = m.run_id
  WHERE m.experiment = 'ruff_fmnist' AND m.split = 'test' AND m.metric = 'auroc.svdd.all'
    AND r.status = 'done' ORDER BY r.variant, r.seed;" > "$tmp/vb"
# the twin's cells (150 epochs, no pretraining), same format
if [ -f "$TWIN" ] && command -v /usr/bin/python3 >/dev/null 2>&1; then
    /usr/bin/python3 - "$TWIN" > "$tmp/tw" <<'EOF'
import json, sys
names = {"T-shirt_top": "tshirt", "Trouser": "trouser", "Pullover": "pullover", "Dress": "dress",
         "Coat": "coat", "Sandal": "sandal", "Shirt": "shirt", "Sneaker": "sneaker", "Bag": "bag",
         "Ankle_boot": "boot"}
for key, r in sorted(json.load(open(sys.argv[1]))["cells"].items()):
    if r.get("epochs") == 150 and not r.get("pretrain_epochs"):
        print(names[r["class"]], r["seed"], r["auroc"])
EOF
else
    : > "$tmp/tw"
fi

awk -v pub="$PUBLISHED" -v spread="$SPREAD" -v tol="$TOL" '
function tq(df) { # two-sided 95% Student t quantiles
    split("12.706 4.303 3.182 2.776 2.571 2.447 2.365 2.306 2.262 2.228", t, " ")
    return df >= 1 && df <= 10 ? t[df] : 1.96 + 2.5 / df
}
function ci(sum, sq, n,    m, v) {
    if (n < 2) return "-"
    m = sum / n; v = (sq - n * m * m) / (n - 1); if (v < 0) v = 0
    return sprintf("[%.3f, %.3f]", m - tq(n - 1) * sqrt(v / n), m + tq(n - 1) * sqrt(v / n))
}
FNR == NR && FILENAME ~ /vb$/ { vs[$1] += $3; vq[$1] += $3 * $3; vn[$1]++; seedsum[$2] += $3; seedn[$2]++; next }
{ ts[$1] += $3; tq2[$1] += $3 * $3; tn[$1]++ }
END {
    split("tshirt trouser pullover dress coat sandal shirt sneaker bag boot", order, " ")
    printf "Deep SVDD (one-class) on Fashion-MNIST, experiments/ruff_fmnist.yaml: test AUROC\n"
    printf "%-9s | %-6s %-7s %-16s | %-6s %-7s %-16s\n", "normal", "seeds", "vadbench", "95% CI", "seeds", "twin", "95% CI"
    nc = 0; csum = 0; csq = 0
    for (i = 1; i <= 10; i++) {
        c = order[i]
        vm = vn[c] ? sprintf("%.3f", vs[c] / vn[c]) : "-"
        tm = tn[c] ? sprintf("%.3f", ts[c] / tn[c]) : "-"
        printf "%-9s | %-6d %-8s %-16s | %-6d %-7s %-16s\n", c, vn[c], vm, ci(vs[c], vq[c], vn[c]), tn[c], tm, ci(ts[c], tq2[c], tn[c])
        if (vn[c]) { nc++; m = vs[c] / vn[c]; csum += m; csq += m * m }
        if (vn[c] && tn[c]) { both++; bv += vs[c] / vn[c]; bt += ts[c] / tn[c] }
    }
    if (nc == 0) { print "no finished cells yet"; exit }
    mean = csum / nc; sd = nc > 1 ? sqrt((csq - nc * mean * mean) / (nc - 1)) : 0
    printf "mean over %d classes: %.3f (std over classes %.3f); published %.3f +- %.3f\n", nc, mean, sd, pub, spread
    # seeds that ran every class: the mean over classes per seed gives an interval of the mean
    ns = 0; ssum = 0; ssq = 0
    for (s in seedn) if (seedn[s] == 10) { ns++; v = seedsum[s] / 10; ssum += v; ssq += v * v }
    if (ns >= 2) printf "mean over the 10 classes, 95%% CI over %d complete seeds: %s\n", ns, ci(ssum, ssq, ns)
    if (nc == 10) {
        d = mean - pub; if (d < 0) d = -d
        printf "verdict: %s (|%.3f - %.3f| = %.3f, tolerance %.2f)\n", d <= tol ? "reproduced" : "NOT reproduced", mean, pub, d, tol
    } else printf "verdict: incomplete (%d of 10 classes)\n", nc
    if (both) printf "classes both ran (%d): vadbench %.3f, twin %.3f, difference %+.3f\n", both, bv / both, bt / both, (bv - bt) / both
}' "$tmp/vb" "$tmp/tw"
