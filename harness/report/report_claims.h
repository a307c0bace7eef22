/* report_claims: the experiment's claims (`compare.claims`,
 * harness/experiment/claims.h) against the measurements.
 *
 * A difference claim (variant − baseline, absolute or relative) is one row
 * of its variant pair's table: both variants' means ± 95% interval, the
 * paired difference with its bootstrap interval, the verdict, and whether
 * the claimed difference lies inside the measured interval. A claim without
 * an expectation is measured only. A level claim (a published figure) is a
 * row of the published-figures table: the mean over the listed variants
 * (each variant's mean over its runs, then the mean of those, with a
 * Student-t interval across variants — or across runs when one variant is
 * listed), against the published value ± spread, "reproduced" when within
 * the claim's tolerance. Must not be asked to decide what a claim means
 * beyond what the file states. */
#ifndef VB_REPORT_CLAIMS_H
#define VB_REPORT_CLAIMS_H

#include "harness/report/report_table.h"

/* The quantity a claim measures (its metric, unit and label). */
RepQuantity rep_q_claim(const RepData *d, const Claim *c);
/* The baseline of a claim: its own or compare.baseline; -1 when no run has it. */
int rep_claim_baseline(const RepData *d, const Claim *c);
/* Rows of every difference or measure-only claim comparing vc against vb;
 * NULL when there are none. */
RepTable *rep_table_claims(const RepData *d, int vb, int vc);
/* Rows of every level claim; NULL when there are none. */
RepTable *rep_table_levels(const RepData *d);

#endif
