#!/usr/bin/python3
"""Reference answers for vadbench's evaluation statistics (harness/metrics*.c,
harness/stats*.c), computed with scikit-learn and SciPy.

Writes tests/fixtures/metrics.json (kept small, < 100 KB), read by
tests/test_metrics.c. It holds:

  * "binary": score/label vectors (tiny, heavy ties, all-equal scores,
    integer scores, imbalanced, perfectly separated, reversed, moderate) with
    sklearn's roc_auc_score, average_precision_score, roc_curve (default
    drop_intermediate=True) and precision_recall_curve;
  * "single_class": vectors with no positives or no negatives, where sklearn
    raises and vadbench must answer "undefined";
  * "classification": y_true/y_pred over C classes with
    precision_recall_fscore_support(labels=range(C), zero_division=0), its
    macro and weighted averages, accuracy_score and confusion_matrix;
  * "mannwhitney": sample pairs with scipy.stats.mannwhitneyu's U statistic
    (for x) and p-values for alternative two-sided / greater / less with
    method='auto' (exact for min(n1, n2) <= 8 without ties, else the normal
    approximation with tie and continuity corrections);
  * "t_ppf": scipy.stats.t.ppf(p, df) for small and large df;
  * "t_interval": mean, sample std and scipy.stats.t.interval(0.95, n-1,
    loc=mean, scale=sem) for a few seed-like samples;
  * "ridge": feature matrices and class labels (3+ classes, one case with
    more features than samples) with sklearn.linear_model.RidgeClassifier's
    coef_, intercept_ and predictions on held-out rows (harness/run/probe.c).

Scores are rounded to a few decimals so that JSON round-trips them exactly
(Python writes the shortest repr, jansson's strtod reads it back to the same
double) and so that ties occur naturally.

Regenerate (needs Debian's python3-sklearn and python3-scipy; deterministic):

    apt-get install -y python3-sklearn python3-scipy
    /usr/bin/python3 tests/reference/make_metric_fixtures.py tests/fixtures/metrics.json

Do not ask it for anything the C side does not test; it is a fixture maker,
not a library.
"""
import json
import sys

import numpy as np
import scipy
import sklearn
from scipy import stats
from sklearn import metrics


def floats(a):
    return [float(v) for v in np.asarray(a, dtype=float)]


def ints(a):
    return [int(v) for v in np.asarray(a)]


def binary_case(name, scores, labels):
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=int)
    fpr, tpr, rthr = metrics.roc_curve(labels, scores)
    prec, rec, pthr = metrics.precision_recall_curve(labels, scores)
    return {
        "name": name,
        "scores": floats(scores),
        "labels": ints(labels),
        "auroc": float(metrics.roc_auc_score(labels, scores)),
        "ap": float(metrics.average_precision_score(labels, scores)),
        # roc thresholds[0] is sklearn-1.2's "max + 1" sentinel (newer
        # versions write inf); the C side uses +inf, so it is not stored.
        "roc": {"fpr": floats(fpr), "tpr": floats(tpr), "thresholds": floats(rthr[1:])},
        # sklearn's PR thresholds have one entry fewer than the points: the
        # final point (recall 0, precision 1) has no threshold.
        "pr": {"precision": floats(prec), "recall": floats(rec), "thresholds": floats(pthr)},
    }


def binary_cases(rng):
    out = []
    out.append(binary_case("sklearn_doc", [0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]))
    out.append(binary_case("two_points", [0.2, 0.7], [0, 1]))
    out.append(binary_case("all_equal_scores", [0.5] * 10, [0, 1, 0, 0, 1, 1, 0, 1, 0, 0]))
    n = 60
    lab = (rng.random(n) < 0.4).astype(int)
    sc = np.round(rng.random(n) * 0.6 + 0.3 * lab, 1)
    out.append(binary_case("heavy_ties_1dp", sc, lab))
    n = 150
    lab = (rng.random(n) < 0.5).astype(int)
    sc = np.clip(rng.integers(0, 4, n) + lab * rng.integers(0, 2, n), 0, 4).astype(float)
    out.append(binary_case("integer_scores", sc, lab))
    n = 120
    lab = np.zeros(n, dtype=int)
    lab[rng.choice(n, 3, replace=False)] = 1
    sc = np.round(rng.normal(0, 1, n) + 1.5 * lab, 3)
    out.append(binary_case("imbalanced_3_of_120", sc, lab))
    lab = np.array([0] * 6 + [1] * 4)
    out.append(binary_case("perfect", np.round(np.linspace(0, 1, 10), 2), lab))
    out.append(binary_case("reversed", np.round(np.linspace(1, 0, 10), 2), lab))
    n = 300
    lab = (rng.random(n) < 0.1).astype(int)
    sc = np.round(rng.normal(0, 1, n) * 3.0 + 2.0 * lab - 1.0, 2)
    out.append(binary_case("moderate_imbalanced", sc, lab))
    out.append(binary_case("negative_large", [-1e6, -3.5, 1e6, -3.5, 0.0, 250.0, -3.5, 2e6],
                           [0, 1, 1, 0, 0, 1, 1, 0]))
    return out


def classification_case(name, y_true, y_pred, c):
    labels = list(range(c))
    p, r, f, s = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0, average=None)
    avg = {}
    for kind in ("macro", "weighted"):
        ap, ar, af, _ = metrics.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, zero_division=0, average=kind)
        avg[kind] = {"precision": float(ap), "recall": float(ar), "f1": float(af)}
    return {
        "name": name,
        "n_classes": c,
        "y_true": ints(y_true),
        "y_pred": ints(y_pred),
        "accuracy": float(metrics.accuracy_score(y_true, y_pred)),
        "precision": floats(p),
        "recall": floats(r),
        "f1": floats(f),
        "support": ints(s),
        "macro": avg["macro"],
        "weighted": avg["weighted"],
        "confusion": [ints(row) for row in metrics.confusion_matrix(y_true, y_pred, labels=labels)],
    }


def classification_cases(rng):
    out = []
    yt = rng.integers(0, 4, 100)
    yp = np.where(rng.random(100) < 0.7, yt, rng.integers(0, 4, 100))
    out.append(classification_case("four_classes_noisy", yt, yp, 4))
    # class 3 never predicted, class 4 absent from y_true but predicted once
    yt = np.array([0, 0, 1, 1, 1, 2, 2, 3, 3, 0, 1, 2])
    yp = np.array([0, 1, 1, 1, 0, 2, 4, 2, 0, 0, 1, 2])
    out.append(classification_case("zero_division", yt, yp, 5))
    yt = np.array([0, 1, 2, 2, 1, 0])
    out.append(classification_case("perfect", yt, yt.copy(), 3))
    yt = rng.integers(0, 2, 37)
    yp = rng.integers(0, 2, 37)
    out.append(classification_case("binary_random", yt, yp, 2))
    return out


def mwu_case(name, x, y):
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    res = {}
    for alt in ("two-sided", "greater", "less"):
        r = stats.mannwhitneyu(x, y, alternative=alt, method="auto")
        res[alt] = (float(r.statistic), float(r.pvalue))
    assert res["two-sided"][0] == res["greater"][0] == res["less"][0]
    ties = len(np.unique(np.concatenate([x, y]))) != len(x) + len(y)
    exact = not (len(x) > 8 and len(y) > 8) and not ties
    return {
        "name": name,
        "x": floats(x),
        "y": floats(y),
        "u1": res["two-sided"][0],
        "p_two_sided": res["two-sided"][1],
        "p_greater": res["greater"][1],
        "p_less": res["less"][1],
        "exact": bool(exact),
    }


def mwu_cases(rng):
    out = []
    out.append(mwu_case("exact_5_7", [1.1, 2.4, 0.3, 5.2, 3.3], [2.0, 4.1, 6.6, 7.2, 5.9, 4.4, 8.0]))
    out.append(mwu_case("exact_8_8_separated", np.arange(8) + 0.5, np.arange(8) + 10.25))
    out.append(mwu_case("exact_1_1", [3.0], [2.0]))
    out.append(mwu_case("exact_3_40", np.round(rng.normal(1.0, 1, 3), 6),
                        np.round(rng.normal(0.0, 1, 40), 6)))
    out.append(mwu_case("ties_small", [1, 2, 2, 3, 4], [2, 3, 3, 5, 6, 6]))
    out.append(mwu_case("identical", [1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0, 5.0]))
    out.append(mwu_case("all_equal", [2.5] * 6, [2.5] * 9))
    out.append(mwu_case("large_continuous", np.round(rng.normal(0, 1, 40), 6),
                        np.round(rng.normal(0.4, 1, 50), 6)))
    out.append(mwu_case("large_integer_ties", rng.integers(0, 6, 30), rng.integers(1, 7, 35)))
    a = np.round(np.exp(rng.normal(0, 0.2, 60)), 5)
    b = np.round(2.0 * np.exp(rng.normal(0, 0.2, 60)), 5)
    out.append(mwu_case("latency_2x", a, b))
    return out


def t_ppf_cases():
    out = []
    for df in (1, 2, 3, 4, 5, 7, 9, 10, 19, 29, 30, 100, 1000, 2.5):
        for p in (0.5, 0.6, 0.9, 0.95, 0.975, 0.995, 0.9995, 0.025, 0.001):
            out.append({"p": p, "df": df, "q": float(stats.t.ppf(p, df))})
    return out


def t_interval_cases(rng):
    out = []
    for x in ([0.81, 0.84, 0.79], [0.9, 0.92], list(np.round(rng.normal(5, 2, 10), 4)),
              [1.0, 1.0, 1.0, 1.0], list(np.round(rng.normal(-3, 0.1, 30), 5))):
        x = np.asarray(x, dtype=float)
        n = len(x)
        m = float(np.mean(x))
        sd = float(np.std(x, ddof=1))
        if sd > 0:
            lo, hi = stats.t.interval(0.95, n - 1, loc=m, scale=sd / np.sqrt(n))
        else:
            lo = hi = m
        out.append({"x": floats(x), "mean": m, "sd": sd, "lo": float(lo), "hi": float(hi)})
    return out


def single_class_cases():
    return [
        {"name": "no_positives", "scores": [0.1, 0.5, 0.3], "labels": [0, 0, 0]},
        {"name": "no_negatives", "scores": [0.1, 0.5, 0.3, 0.3], "labels": [1, 1, 1, 1]},
        {"name": "one_sample", "scores": [0.7], "labels": [1]},
    ]


def ridge_cases(rng):
    from sklearn.linear_model import RidgeClassifier
    out = []
    for n, d, c, alpha in ((30, 4, 3, 1.0), (10, 14, 4, 0.5), (48, 6, 5, 3.0)):
        x = np.round(rng.normal(0, 1, (n + 6, d)), 3)
        y = np.arange(n + 6) % c
        x[:, 0] += 0.8 * y  # some signal
        clf = RidgeClassifier(alpha=alpha).fit(x[:n], y[:n])
        out.append({"n": n, "d": d, "c": c, "alpha": alpha, "x": floats(x.ravel()),
                    "y": ints(y), "coef": floats(clf.coef_.ravel()),
                    "intercept": floats(clf.intercept_), "pred": ints(clf.predict(x[n:]))})
    return out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/metrics.json"
    rng = np.random.default_rng(20240607)
    doc = {
        "generator": "tests/reference/make_metric_fixtures.py",
        "versions": {"sklearn": sklearn.__version__, "scipy": scipy.__version__,
                     "numpy": np.__version__},
        "binary": binary_cases(rng),
        "single_class": single_class_cases(),
        "classification": classification_cases(rng),
        "mannwhitney": mwu_cases(rng),
        "t_ppf": t_ppf_cases(),
        "t_interval": t_interval_cases(rng),
        "ridge": ridge_cases(np.random.default_rng(20261129)),
    }
    text = json.dumps(doc, separators=(",", ":"))
    with open(path, "w") as f:
        f.write(text + "\n")
    print(f"wrote {path} ({len(text)} bytes)")


if __name__ == "__main__":
    main()
