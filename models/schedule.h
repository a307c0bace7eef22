/* schedule: per-step learning rate (and Adam β1) schedules.
 *
 * onecycle: PyTorch's OneCycleLR (anneal cos, two phases): from max/div up
 *   to max over the first pct of steps, then down to max/(div·final_div);
 *   with cycle_momentum, β1 goes max_m → base_m → max_m in opposition.
 * cosine:   linear warm-up from 0 to max over the first pct of steps, then
 *   cosine decay to 0 at the last step.
 * constant: max at every step.
 * step:     max · gamma^k from the k-th milestone on, milestones in epochs
 *   counted from 0 (torch.optim.lr_scheduler.MultiStepLR stepped at each
 *   epoch's end: milestone m means epochs m, m+1, ... use the decayed
 *   rate); the epoch of a step is step / steps_per_epoch.
 * After schedule_swa_start the SWA learning rate replaces the schedule:
 * cosine annealing from the lr at the switch to swa_lr over anneal_steps,
 * then constant (anneal_steps 0 = constant from the start), as
 * torch.optim.swa_utils.SWALR does per epoch. */
#ifndef VB_SCHEDULE_H
#define VB_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum SchedKind { SCHED_ONECYCLE = 0, SCHED_COSINE, SCHED_CONSTANT, SCHED_STEP } SchedKind;
#define SCHED_MAX_MILESTONES 16
/* The schedule names of experiment files (`train.schedule`), indexed by SchedKind. */
extern const char *const sched_kind_names[];

typedef struct Schedule {
    SchedKind kind;
    double max_lr, pct, div, final_div;
    bool cycle_momentum;
    double base_m, max_m; /* β1 range for cycle_momentum */
    int64_t total;        /* steps of the whole run */
    /* SWA */
    int64_t swa_start; /* first SWA step (-1 = never) */
    double swa_lr;
    int64_t swa_anneal; /* steps of the anneal to swa_lr */
    /* step (last, so that positional initialisers of the others stay valid) */
    int64_t steps_per_epoch;
    int nmilestones;
    int milestones[SCHED_MAX_MILESTONES]; /* epochs, ascending */
    double gamma;
} Schedule;

/* Learning rate at optimiser step `step` (0-based). */
double schedule_lr(const Schedule *s, int64_t step);
/* Adam β1 at `step` (only meaningful with cycle_momentum; else base_m is unused
 * and the caller's β1 stands). Returns < 0 when not cycling. */
double schedule_beta1(const Schedule *s, int64_t step);

#endif
